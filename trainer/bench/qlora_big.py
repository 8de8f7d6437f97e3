"""Issue 20's big case and 7B memory rows, on the GPU machine (the CPU tests cannot measure them).

    python trainer/bench/qlora_big.py write DIR [--layers N] [--max-gib G] [--max-s S]
                                           # a Llama-3.1-70B-shaped checkpoint of random bf16 weights, as many of
                                           # its 80 layers as the disk holds, G GiB (40) and
                                           # S seconds (170) allow
    python trainer/bench/qlora_big.py load DIR OUT.jsonl       # streaming NF4 load + a few lean QLoRA steps
    python trainer/bench/qlora_big.py memory7b OUT.jsonl       # Qwen2-7B QLoRA seq 2048 bs 1 gc: lean vs upcast

`load` reports the load time, the peak RSS (VmHWM, and what the load added to the process), the GPU peak during the
load against the NF4 model's size, then the training step's peak allocated memory and tokens/s (seq 2048, batch 1,
checkpointing, LORA_LENS_NF4_KERNEL as set), against `lora-lens estimate` of the same N-layer shape, computed on the CPU
beforehand and stored in llama70b_estimates.json (the GPU machine may have no node). Rows are the estimator's calibration format (engine lora-lens, arch,
method, seq, bs, gc, peak_alloc_gib, ...) plus the load figures; DIR/config.json is copied next to OUT so that
`lora-lens estimate` can be run on the same N-layer shape. Per-layer figures scale with the layer count.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GIB = 1024**3
LLAMA_70B = dict(
    vocab_size=128256,
    hidden_size=8192,
    intermediate_size=28672,
    num_attention_heads=64,
    num_key_value_heads=8,
    max_position_embeddings=131072,
    rope_theta=500000.0,
    rms_norm_eps=1e-5,
    tie_word_embeddings=False,
    bos_token_id=128000,
    eos_token_id=128001,
)
DISK_MARGIN = 8 * GIB
MAX_GIB = 40.0  # what the device machine's disk and a 6-minute call hold: 20 layers, 38.4 GB with the embeddings
MAX_WRITE_S = 170.0  # the write's share of a 6-minute call: the load and the steps take the rest
ESTIMATES = Path(__file__).resolve().parent / "llama70b_estimates.json"


def _layer_shapes(i: int) -> dict[str, tuple[int, ...]]:
    h, inter, kv = 8192, 28672, 1024
    p = f"model.layers.{i}."
    return {
        p + "self_attn.q_proj.weight": (h, h),
        p + "self_attn.k_proj.weight": (kv, h),
        p + "self_attn.v_proj.weight": (kv, h),
        p + "self_attn.o_proj.weight": (h, h),
        p + "mlp.gate_proj.weight": (inter, h),
        p + "mlp.up_proj.weight": (inter, h),
        p + "mlp.down_proj.weight": (h, inter),
        p + "input_layernorm.weight": (h,),
        p + "post_attention_layernorm.weight": (h,),
    }


def _bytes(shapes: dict[str, tuple[int, ...]]) -> int:
    total = 0
    for shape in shapes.values():
        n = 1
        for d in shape:
            n *= d
        total += 2 * n
    return total


def write(folder: Path, layers: int | None, max_gib: float = MAX_GIB, max_s: float = MAX_WRITE_S) -> int:
    """One shard per layer (1.71 GB), one for the embeddings and norm, one for the head; random N(0, 0.02) on the GPU.
    Layers are added while the disk (less a margin), `max_gib` and `max_s` seconds allow; the config and the index,
    written last, name the layers written."""
    from transformers import LlamaConfig

    t0 = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    outer = {
        "model.embed_tokens.weight": (128256, 8192),
        "model.norm.weight": (8192,),
        "lm_head.weight": (128256, 8192),
    }
    free = shutil.disk_usage(folder).free
    room = min(free - DISK_MARGIN, int(max_gib * GIB))
    fits = int((room - _bytes(outer)) // _bytes(_layer_shapes(0)))
    n = min(80, fits if layers is None else min(layers, fits))
    if n < 1:
        raise SystemExit(f"{folder}: {free / GIB:.0f} GiB free holds no layer beside the embeddings")
    gen = torch.Generator(device="cuda").manual_seed(0)
    weight_map: dict[str, str] = {}
    _write_shard(
        folder, "model-embed.safetensors", {k: v for k, v in outer.items() if k != "lm_head.weight"}, gen, weight_map
    )
    _write_shard(folder, "model-head.safetensors", {"lm_head.weight": outer["lm_head.weight"]}, gen, weight_map)
    written = 0
    while written < n:
        started = time.perf_counter()
        _write_shard(folder, f"model-layer-{written:02d}.safetensors", _layer_shapes(written), gen, weight_map)
        written += 1
        if time.perf_counter() - t0 + (time.perf_counter() - started) > max_s:
            break  # the next layer would overrun the time given
    LlamaConfig(num_hidden_layers=written, **LLAMA_70B).save_pretrained(folder)
    total = _bytes(outer) + written * _bytes(_layer_shapes(0))
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map})
    )
    print(
        f"== wrote {written} of 80 layers ({total / GIB:.1f} GiB; {n} fit the disk and the {max_gib:.0f} GiB cap) to "
        f"{folder} in {time.perf_counter() - t0:.0f} s",
        flush=True,
    )
    return written


def _write_shard(
    folder: Path, name: str, shapes: dict[str, tuple[int, ...]], gen: torch.Generator, weight_map: dict[str, str]
) -> None:
    from safetensors.torch import save_file

    tensors = {
        k: (torch.randn(s, generator=gen, device="cuda", dtype=torch.bfloat16) * 0.02).cpu()
        if len(s) > 1
        else torch.ones(s, dtype=torch.bfloat16)
        for k, s in shapes.items()
    }
    save_file(tensors, folder / name, metadata={"format": "pt"})
    weight_map.update({k: name for k in tensors})


def _status(key: str) -> int:
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _qlora_plan(folder: Path) -> Any:
    from lora_lens_trainer.plan import plan_from_dict
    from tests.plans import make_plan

    lora = {
        "r": 16,
        "lora_alpha": 32,
        "lora_dropout": 0.0,
        "target_modules": "all-linear",
        "bias": "none",
        "use_rslora": False,
        "use_dora": False,
    }
    return plan_from_dict(
        make_plan(
            str(folder),
            str(folder / "train.jsonl"),
            method="qlora",
            lora=lora,
            training__gradient_checkpointing=True,
            training__learning_rate=1e-5,
            data__max_length=2048,
            training__per_device_train_batch_size=1,
        )
    )


def load(folder: Path, out: Path) -> dict[str, Any]:
    from lora_lens_trainer.modeling import apply_method, streamed_nf4
    from lora_lens_trainer.nf4 import QUANTIZE_CHUNK

    plan = _qlora_plan(folder)
    cuda = torch.device("cuda")
    torch.cuda.init()
    rss_before = _status("VmRSS")
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    model = streamed_nf4(plan, cuda, torch.bfloat16)
    torch.cuda.synchronize()
    load_s = time.perf_counter() - t0
    assert model is not None
    row: dict[str, Any] = {
        "load_s": round(load_s, 1),
        "load_peak_rss_gib": round(_status("VmHWM") / GIB, 3),
        "load_rss_added_gib": round((_status("VmHWM") - rss_before) / GIB, 3),
        "load_gpu_peak_gib": round(torch.cuda.max_memory_allocated() / GIB, 3),
        "loaded_gpu_gib": round(torch.cuda.memory_allocated() / GIB, 3),
        # The stated GPU bound: the loaded model, one bf16 MLP weight and one quantization pass.
        "load_gpu_bound_gib": round((torch.cuda.memory_allocated() + 2 * 28672 * 8192 + 12 * QUANTIZE_CHUNK) / GIB, 3),
    }
    setup = apply_method(model, plan, cuda, torch.bfloat16, torch.bfloat16, "builtin-nf4")
    row.update(_train_steps(setup, plan, steps=4))
    layers = model.config.num_hidden_layers
    row = {"engine": "lora-lens", "arch": f"llama-3.1-70b-{layers}-layers", "layers": layers, **row}
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")
    shutil.copy(folder / "config.json", out.parent / f"llama-3.1-70b-{layers}-layers.config.json")
    print(json.dumps(row), flush=True)
    _print_summary(row)
    return row


def _print_summary(row: dict[str, Any]) -> None:
    estimate = json.loads(ESTIMATES.read_text())["per_layers"].get(str(row["layers"]))
    against = "no stored estimate for this layer count"
    if estimate:
        est = estimate["peak_allocated_gib"]
        against = f"estimate {est} GiB allocated ({(est - row['peak_alloc_gib']) / row['peak_alloc_gib'] * 100:+.1f}%)"
        row["estimate_peak_alloc_gib"] = est
        row["estimate_load_ram_gib"] = estimate["load_ram_gib"]
    print(
        f"== llama-3.1-70b-shaped, {row['layers']} of 80 layers: load {row['load_s']} s, peak RSS "
        f"{row['load_peak_rss_gib']} GiB ({row['load_rss_added_gib']} GiB added by the load; the estimate's RAM line "
        f"{estimate['load_ram_gib'] if estimate else 'n/a'} GiB), GPU peak during load {row['load_gpu_peak_gib']} GiB "
        f"(bound {row['load_gpu_bound_gib']}); QLoRA seq 2048 bs 1 gc ({row.get('nf4_kernel')} NF4): peak alloc "
        f"{row['peak_alloc_gib']} GiB, {against}; {row['tok_s']} tokens/s",
        flush=True,
    )


def _train_steps(setup: Any, plan: Any, steps: int) -> dict[str, Any]:
    """A few QLoRA steps as the trainer takes them (bench.py's `ours` step): seq 2048, batch 1, checkpointing."""
    from bench import _measure, _row  # type: ignore[import-not-found]
    from lora_lens_trainer.collate import Batch
    from lora_lens_trainer.modeling import decoder_and_head
    from lora_lens_trainer.optim import build_optimizer
    from lora_lens_trainer.step import batch_loss

    cuda = torch.device("cuda")
    model = setup.model.train()
    body, head = decoder_and_head(model, setup.autocast_dtype)
    params = [p for p in model.parameters() if p.requires_grad]
    opt, _ = build_optimizer(plan, params, cuda)
    ids = torch.randint(0, model.config.vocab_size, (1, 2048), device=cuda)
    targets = torch.cat([ids[:, 1:], torch.full((1, 1), -100, device=cuda)], dim=1)
    batch = Batch(ids, targets, None, None, 2048, int((targets != -100).sum()))

    def step() -> None:
        loss = batch_loss(body, head, batch, float(batch.n_targets), cuda, setup.autocast_dtype, "sdpa")
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0, foreach=True)
        opt.step()
        opt.zero_grad(set_to_none=True)

    step_s, mem = _measure(step, steps)
    row = _row("lora-lens", "llama-3.1-70b", "qlora", 16, 2048, 1, True, model, step_s, mem)
    import os

    row.update(
        quantization="builtin-nf4",
        upcast=False,
        nf4_kernel=os.environ.get("LORA_LENS_NF4_KERNEL") or "default (dequant)",
    )
    return {k: v for k, v in row.items() if k not in ("engine", "arch")}


def memory7b(out: Path) -> list[dict[str, Any]]:
    """Qwen2-7B QLoRA at seq 2048, batch 1, checkpointing: lean (target <= 8.0 GiB allocated) and fp32-upcast rows."""
    import os

    import bench  # type: ignore[import-not-found]

    rows = []
    kernel = os.environ.get("LORA_LENS_NF4_KERNEL", "dequant")  # the default path on CUDA
    for upcast in (False, True):
        row = bench.ours("qwen2-7b", "qlora", 16, 2048, 1, True, 4, upcast=upcast, kernel=kernel)
        rows.append(row)
        verdict = "" if upcast else f" (target <= 8.0: {'met' if row['peak_alloc_gib'] <= 8.0 else 'NOT met'})"
        print(
            f"== qwen2-7b qlora {'fp32 upcast' if upcast else 'lean'}: peak alloc {row['peak_alloc_gib']} GiB"
            f"{verdict}, {row['tok_s']} tokens/s",
            flush=True,
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "a", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)
    return rows


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    what = sys.argv[1] if len(sys.argv) > 1 else ""
    if what == "write":
        flags = dict(zip(sys.argv[3::2], sys.argv[4::2]))
        n = int(flags["--layers"]) if "--layers" in flags else None
        write(Path(sys.argv[2]), n, float(flags.get("--max-gib", MAX_GIB)), float(flags.get("--max-s", MAX_WRITE_S)))
    elif what == "load":
        load(Path(sys.argv[2]), Path(sys.argv[3]))
    elif what == "memory7b":
        memory7b(Path(sys.argv[2]))
    else:
        raise SystemExit(__doc__)
