"""The H100 calibration rows' configurations, re-timed on this GPU step by step, to separate what the throughput
model gets wrong from what the measuring protocol put in: the H100 rows keep the fastest of steps 2 and 3
(test/fixtures/calibration/README.md of the shared data), while our H200 rows keep the fastest of steps after a
warm-up. Each row holds every step's time, `step_s_early` (the H100 protocol) and `step_s` (fastest of steps 4-10).

    python bench/gpu/measure_protocol.py OUT.jsonl
"""
from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import measure_throughput  # noqa: E402  (registers the extra architectures with bench)
from measure_throughput import bench  # noqa: E402

STEPS = 10
CALIBRATION = Path(__file__).resolve().parents[2] / "test" / "fixtures" / "calibration"
measure_throughput.EXTRA.update({
    "llama-2-13b": ("LlamaConfig", dict(vocab_size=32000, hidden_size=5120, intermediate_size=13824, num_hidden_layers=40,
                                        num_attention_heads=40, num_key_value_heads=40, tie_word_embeddings=False)),
    "phi-3-mini": ("Phi3Config", dict(vocab_size=32064, hidden_size=3072, intermediate_size=8192, num_hidden_layers=32,
                                      num_attention_heads=32, num_key_value_heads=32, tie_word_embeddings=False)),
    "smollm2-1.7b": ("LlamaConfig", dict(vocab_size=49152, hidden_size=2048, intermediate_size=8192, num_hidden_layers=24,
                                         num_attention_heads=32, num_key_value_heads=32, tie_word_embeddings=True)),
})


def vocab(arch: str) -> int:
    return (bench.ARCHS.get(arch) or measure_throughput.EXTRA[arch][1])["vocab_size"]


def timed_row(spec: dict[str, Any]) -> dict[str, Any]:
    from peft import LoraConfig, get_peft_model

    arch, method, seq, bs = spec["arch"], spec["method"], spec["seq"], spec["bs"]
    fp32_master = method == "full" and spec.get("master") == "fp32"
    model = measure_throughput.build(arch, torch.float32 if fp32_master else torch.bfloat16)
    if method == "lora":
        targets = spec["targets"] if spec["targets"] == "all-linear" else spec["targets"].split(",")
        model = get_peft_model(model, LoraConfig(r=spec["r"], lora_alpha=2 * spec["r"], target_modules=targets, lora_dropout=0.0))
    if spec["gc"]:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    model.config.use_cache = False
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    ids = torch.randint(0, vocab(arch), (bs, seq), device="cuda")
    times = []
    for _ in range(STEPS):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=fp32_master):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    del model, opt
    bench._free()
    step_s = min(times[3:])
    return {**{k: spec.get(k) for k in ("arch", "method", "targets", "r", "master", "seq", "bs", "gc")}, "engine": "hf",
            "gpu": "H200", "times": [round(t, 4) for t in times], "step_s_early": round(min(times[1:3]), 4),
            "step_s": round(step_s, 4), "tok_s": round(bs * seq / step_s), "h100_step_s": spec["step_s"]}


def main() -> None:
    rows = [json.loads(line) for f in ("h100-hf-peft.jsonl", "h100-hf-peft-heldout.jsonl")
            for line in (CALIBRATION / f).read_text().splitlines() if line.strip()]
    with open(sys.argv[1], "w", encoding="utf-8") as out:
        for spec in rows:
            started = time.time()
            try:
                row = timed_row(spec)
            except Exception as error:  # a row that cannot run is reported, the others go on
                bench._free()
                row = {**spec, "error": f"{type(error).__name__}: {error}", "trace": traceback.format_exc()[-800:]}
            out.write(json.dumps(row) + "\n")
            out.flush()
            print(f"{spec['arch']} {spec['method']} seq{spec['seq']} bs{spec['bs']} gc={spec['gc']}: "
                  f"{row.get('times')} ({time.time() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
