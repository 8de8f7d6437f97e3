"""Step times of both engines (transformers + PEFT, and our trainer) over a grid of architectures and settings, for
the throughput model (server/src/core/estimate/throughput/). Runs trainer/bench/bench.py's two step functions unchanged, so the
rows measure what the memory rows measure; adds architectures outside the Qwen2 family through their configs.
Each row: the fastest of `STEPS - 1` timed steps after a warm-up step. Writes JSON lines to the path given.

    python bench/gpu/measure_throughput.py OUT.jsonl [--quick]
"""
from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "trainer"))
sys.path.insert(0, str(ROOT / "trainer" / "bench"))
import bench  # noqa: E402

STEPS = 6
EXTRA: dict[str, Any] = {
    "llama-3.2-1b": ("LlamaConfig", dict(vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                                         num_attention_heads=32, num_key_value_heads=8, head_dim=64, tie_word_embeddings=True)),
    "qwen3-1.7b": ("Qwen3Config", dict(vocab_size=151936, hidden_size=2048, intermediate_size=6144, num_hidden_layers=28,
                                       num_attention_heads=16, num_key_value_heads=8, head_dim=128, tie_word_embeddings=True)),
    "mistral-7b": ("MistralConfig", dict(vocab_size=32768, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                                         num_attention_heads=32, num_key_value_heads=8, sliding_window=None,
                                         tie_word_embeddings=False)),
}
_qwen2_build = bench.build


def build(arch: str, dtype: torch.dtype) -> torch.nn.Module:
    if arch not in EXTRA:
        return _qwen2_build(arch, dtype)
    import transformers

    cls, kwargs = EXTRA[arch]
    config = getattr(transformers, cls)(**kwargs, max_position_embeddings=32768)
    with torch.device("cuda"):
        return transformers.AutoModelForCausalLM.from_config(config, dtype=dtype, attn_implementation="sdpa")


bench.build = build
for name, (_, kwargs) in EXTRA.items():
    bench.ARCHS[name] = kwargs

# (arch, method, r, seq, bs, gc); the first three architectures fit the model, the others are held out.
GRID = [
    *[("qwen2.5-0.5b", m, 16 if m != "full" else 0, s, b, g) for m in ("lora", "full") for (s, b) in ((512, 8), (2048, 1), (2048, 4)) for g in (True, False)],
    *[("qwen2.5-1.5b", m, 16 if m != "full" else 0, s, b, g) for m in ("lora", "full") for (s, b) in ((2048, 1), (2048, 4)) for g in (True, False)],
    *[("qwen2-7b", "lora", 16, s, b, g) for (s, b) in ((2048, 1), (2048, 4), (512, 4)) for g in (True, False)],
    ("qwen2-7b", "qlora", 16, 2048, 1, True), ("qwen2-7b", "qlora", 16, 2048, 4, True), ("qwen2-7b", "full", 0, 2048, 1, True),
    ("llama-3.2-1b", "lora", 16, 2048, 4, True), ("llama-3.2-1b", "lora", 16, 2048, 4, False), ("llama-3.2-1b", "full", 0, 2048, 2, True),
    ("qwen3-1.7b", "lora", 16, 2048, 2, True), ("qwen3-1.7b", "lora", 16, 2048, 2, False),
    ("mistral-7b", "lora", 16, 2048, 1, True), ("mistral-7b", "lora", 16, 2048, 4, True), ("mistral-7b", "qlora", 16, 2048, 2, True),
]


def main() -> None:
    out = Path(sys.argv[1])
    quick = "--quick" in sys.argv
    grid = GRID[:4] if quick else GRID
    started = time.time()
    with open(out, "w", encoding="utf-8") as fh:
        for arch, method, r, seq, bs, gc_on in grid:
            engines = [("lora-lens", bench.ours)] if method == "qlora" else [("hf", bench.hf_peft), ("lora-lens", bench.ours)]
            for engine, fn in engines:
                try:
                    row = fn(arch, method, r, seq, bs, gc_on, STEPS)
                except torch.OutOfMemoryError:
                    bench._free()
                    row = {"engine": engine, "arch": arch, "method": method, "seq": seq, "bs": bs, "gc": gc_on, "oom": True}
                except Exception as error:  # a row that cannot run is reported, the grid goes on
                    bench._free()
                    row = {"engine": engine, "arch": arch, "method": method, "seq": seq, "bs": bs, "gc": gc_on,
                           "error": f"{type(error).__name__}: {error}", "trace": traceback.format_exc()[-600:]}
                row["gpu"] = torch.cuda.get_device_name()
                print(json.dumps(row), flush=True)
                fh.write(json.dumps(row) + "\n")
                fh.flush()
    print(f"done in {time.time() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
