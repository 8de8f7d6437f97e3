"""Issue 20's QLoRA speed on one GPU, in one process under 6 minutes (no network: models built from their configs).

    python trainer/bench/nf4_speed.py OUT_DIR            # on the GPU machine: kernels, then the 7B steps
    python trainer/bench/nf4_speed.py OUT_DIR --dry      # the CPU check: the same code on tiny shapes, no timings

(a) The NF4 dequantize kernel against the reference dequantize (nf4.dequantize) at Qwen2-7B's layer shapes: time
    and effective GB/s (the bytes either must move: packed codes + double-quantized scales read, bf16 written; the
    reference moves more), plus the bf16 matmul of 2,048 rows and the fused NF4 matmul (a few tile shapes) on the
    same weight, for scale.
(b) bench.py's steps for Qwen2-7B-shaped random weights at seq 2048, batch 1 and 4, checkpointing, r 16 all-linear:
    transformers + PEFT bf16 LoRA, our bf16 LoRA, and lean QLoRA through each NF4 path (reference, dequant, fused):
    tokens/s, the QLoRA/LoRA step-time ratio (target <= 1.25), the ratio to transformers + PEFT, peak allocated.
    The fused kernel runs batch 4 only when its batch-1 step was within 3x of LoRA's (it was 30x slower before).
Everything is printed (lines starting with ==) and written to OUT_DIR/nf4-speed.json; a case that does not fit the
time left is skipped and named.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from lora_lens_trainer import nf4  # noqa: E402
from lora_lens_trainer.kernels import nf4_dequant  # noqa: E402
from lora_lens_trainer.kernels import nf4_matmul as kernels  # noqa: E402

BUDGET_S = 330.0  # leaves the interpreter start and the writes inside 6 minutes
QWEN2_7B_SHAPES = {"q_proj/o_proj": (3584, 3584), "k_proj/v_proj": (512, 3584), "gate/up": (18944, 3584)}
QWEN2_7B_SHAPES["down"] = (3584, 18944)
FUSED_TILES = [
    "128,128,64,8,3",
    "256,64,64,8,2",
    "64,64,64,4,3",
]  # the default, taller tiles (fewer repeats), the first tiles
T0 = time.perf_counter()


def elapsed() -> float:
    return time.perf_counter() - T0


def _time(fn: Any, repeat: int, device: torch.device) -> float:
    """Median seconds of `repeat` calls after one warm-up (the GPU synchronized around each)."""
    fn()
    times = []
    for _ in range(repeat):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def kernel_rows(device: torch.device, shapes: dict[str, tuple[int, int]], rows: int, repeat: int) -> list[dict]:
    out = [_kernel_row(name, o, i, device, rows, repeat) for name, (o, i) in shapes.items()]
    nf4_dequant.release_workspace()
    return out


def _kernel_row(name: str, o: int, i: int, device: torch.device, rows: int, repeat: int) -> dict[str, Any]:
    torch.manual_seed(0)
    w = (torch.randn(o, i, device=device) * 0.02).to(torch.bfloat16)
    layer = nf4.NF4Linear.from_weight(w, None, True, torch.bfloat16)
    del w
    buf = nf4_dequant.workspace(o * i, device, torch.bfloat16)
    same = torch.equal(nf4_dequant.dequantize_into(layer, buf), layer.dequantized(torch.bfloat16))
    moved = layer.packed.numel() + layer.absmax_q.numel() + 4 * layer.absmax_scale.numel() + 2 * o * i
    t_kernel = _time(lambda: nf4_dequant.dequantize_into(layer, buf), repeat, device)
    t_ref = _time(lambda: layer.dequantized(torch.bfloat16), repeat, device)
    x = torch.randn(rows, i, device=device, dtype=torch.bfloat16)
    wt = buf[: o * i].view(o, i)
    t_mm = _time(lambda: x @ wt.t(), repeat, device)
    row: dict[str, Any] = {
        "shape": f"{name} {o}x{i}",
        "equal_to_reference": same,
        "dequant_ms": round(t_kernel * 1e3, 4),
        "dequant_gb_s": round(moved / t_kernel / 1e9, 1),
        "reference_dequant_ms": round(t_ref * 1e3, 4),
        "reference_gb_s": round(moved / t_ref / 1e9, 1),
        f"matmul_{rows}_rows_ms": round(t_mm * 1e3, 4),
    }
    if device.type == "cuda":
        for tiles in FUSED_TILES:
            os.environ[kernels.TILES_ENV] = tiles
            try:
                t_fused = _time(lambda: kernels.fused_nf4_matmul(x, layer), max(2, repeat // 4), device)
                row[f"fused_ms[{tiles}]"] = round(t_fused * 1e3, 3)
            except Exception as e:  # a tile shape this card cannot compile: say so, go on
                row[f"fused_ms[{tiles}]"] = f"failed: {type(e).__name__}: {str(e)[:120]}"
        os.environ.pop(kernels.TILES_ENV, None)
    print(
        f"== dequant {row['shape']}: kernel {row['dequant_ms']} ms ({row['dequant_gb_s']} GB/s, equal to the "
        f"reference: {same}), reference {row['reference_dequant_ms']} ms ({row['reference_gb_s']} GB/s), "
        f"bf16 matmul of {rows} rows {row[f'matmul_{rows}_rows_ms']} ms"
        + "".join(f", {k} {v}" for k, v in row.items() if k.startswith("fused")),
        flush=True,
    )
    return row


# (label, engine, method, NF4 path): bench.hf_peft for "hf", bench.ours otherwise.
CASES = {
    "LoRA bf16": ("ours", "lora", None),
    "QLoRA dequant": ("ours", "qlora", "dequant"),
    "transformers+PEFT LoRA": ("hf", "lora", None),
    "QLoRA reference": ("ours", "qlora", "reference"),
    "QLoRA fused": ("ours", "qlora", "triton"),
}
# Most telling first, so that a short budget drops the least: (label, batch size).
ORDER = [(label, bs) for pair in zip(CASES, CASES) for label, bs in zip(pair, (1, 4))]
# Seconds a case may need at most (model build, quantization, steps), to skip what would overrun the budget.
CASE_COST_S = {1: 30.0, 4: 40.0}
FUSED_COST_S = 90.0  # the fused kernel's batch-1 case: its backward shapes compile, and its steps were 14 s each


def step_rows(steps: int, save: Any = None) -> list[dict[str, Any]]:
    """The step cases in ORDER, each printed (a JSON row, then its ratios so far) and passed to `save` as it ends, so
    that a call cut short keeps what ran."""
    import bench  # type: ignore[import-not-found]

    rows: dict[tuple[str, int], dict[str, Any]] = {}
    for label, bs in ORDER:
        engine, method, path = CASES[label]
        if path == "triton" and bs > 1:
            fused1, lora1 = rows.get((label, 1), {}), rows.get(("LoRA bf16", 1), {})
            if "step_s" not in fused1 or "step_s" not in lora1 or fused1["step_s"] > 3 * lora1["step_s"]:
                print(f"== skipped {label} bs {bs}: its batch-1 step was not within 3x of LoRA's", flush=True)
                continue
        if elapsed() + (FUSED_COST_S if path == "triton" else CASE_COST_S[bs]) > BUDGET_S:
            print(f"== skipped {label} bs {bs}: {elapsed():.0f} s spent of {BUDGET_S:.0f}", flush=True)
            continue
        nf4_dequant.release_workspace()  # each case's peak counts its own buffers only
        n = 2 if path == "triton" else steps
        t = time.perf_counter()
        try:
            if engine == "hf":
                row = bench.hf_peft("qwen2-7b", method, 16, 2048, bs, True, n)
            else:
                row = bench.ours("qwen2-7b", method, 16, 2048, bs, True, n, upcast=False, kernel=path or "reference")
        except Exception as e:  # out of memory, or a kernel this card cannot compile: recorded, the rest runs
            bench._free()
            row = {"arch": "qwen2-7b", "method": method, "bs": bs, "error": f"{type(e).__name__}: {str(e)[:300]}"}
        row.update(label=label, case_s=round(time.perf_counter() - t, 1))
        rows[(label, bs)] = row
        print(json.dumps(row), flush=True)
        _print_ratios(bs, {label: row}, _same_bs(rows, bs))
        if save is not None:
            save(list(rows.values()))
    print("== summary", flush=True)
    for bs in (1, 4):
        _print_ratios(bs, _same_bs(rows, bs), _same_bs(rows, bs))
    return list(rows.values())


def _same_bs(rows: dict[tuple[str, int], dict[str, Any]], bs: int) -> dict[str, dict[str, Any]]:
    return {label: row for (label, b), row in rows.items() if b == bs}


def _print_ratios(bs: int, show: dict[str, dict[str, Any]], found: dict[str, dict[str, Any]]) -> None:
    """One line per row of `show`, with its step-time ratios to the LoRA rows in `found` (n/a where not run yet)."""
    lora, hf = found.get("LoRA bf16", {}), found.get("transformers+PEFT LoRA", {})
    for label, row in show.items():
        if "step_s" not in row:
            print(f"== qwen2-7b seq 2048 bs {bs} {label}: {row.get('error', 'no result')}", flush=True)
            continue
        ratio = f"{row['step_s'] / lora['step_s']:.2f}x" if "step_s" in lora else "n/a"
        to_hf = f"{row['step_s'] / hf['step_s']:.2f}x" if "step_s" in hf else "n/a"
        verdict = ""
        if row["method"] == "qlora" and "step_s" in lora:
            verdict = " (target <= 1.25x: " + ("met)" if row["step_s"] <= 1.25 * lora["step_s"] else "NOT met)")
        print(
            f"== qwen2-7b seq 2048 bs {bs} {label}: {row['tok_s']} tokens/s, step {row['step_s']} s, "
            f"step time vs our LoRA {ratio}{verdict}, vs transformers+PEFT bf16 LoRA {to_hf}, "
            f"peak alloc {row['peak_alloc_gib']} GiB",
            flush=True,
        )


def _fastest_tiles(rows: list[dict[str, Any]]) -> str:
    gate = next(r for r in rows if r["shape"].startswith("gate/up"))
    timed = {t: gate.get(f"fused_ms[{t}]") for t in FUSED_TILES}
    ok = {t: v for t, v in timed.items() if isinstance(v, float)}
    return min(ok, key=lambda t: ok[t]) if ok else FUSED_TILES[0]


def dry(out: Path) -> None:
    """The CPU check: the kernel rows at tiny shapes through Triton's interpreter (equality is real, times are not)."""
    os.environ["TRITON_INTERPRET"] = "1"
    rows = kernel_rows(torch.device("cpu"), {"tiny": (96, 128), "tiny-down": (128, 96)}, 16, 2)
    assert all(r["equal_to_reference"] for r in rows), rows
    (out / "nf4-speed.json").write_text(json.dumps({"dry": True, "kernels": rows}, indent=1))
    print("== dry run done (CPU, interpreter): the kernel rows ran; the 7B steps need a GPU", flush=True)


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    if "--dry" in sys.argv:
        dry(out)
        return
    if not torch.cuda.is_available():
        raise SystemExit("nf4_speed.py needs a CUDA GPU (use --dry for the CPU check)")
    import transformers
    import triton

    cuda = torch.device("cuda")
    info = {
        "gpu": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "triton": triton.__version__,
    }
    print("== " + json.dumps(info), flush=True)
    result: dict[str, Any] = {**info, "kernels": kernel_rows(cuda, QWEN2_7B_SHAPES, 2048, 20)}
    (out / "nf4-speed.json").write_text(json.dumps(result, indent=1))
    result["fused_tiles"] = os.environ[kernels.TILES_ENV] = _fastest_tiles(result["kernels"])
    print(f"== the fused QLoRA steps use tiles {result['fused_tiles']} (fastest on gate/up)", flush=True)

    def save(rows: list[dict[str, Any]]) -> None:
        result["steps"] = rows
        result["elapsed_s"] = round(elapsed(), 1)
        (out / "nf4-speed.json").write_text(json.dumps(result, indent=1))

    result["steps"] = step_rows(steps=4, save=save)
    result["elapsed_s"] = round(elapsed(), 1)
    (out / "nf4-speed.json").write_text(json.dumps(result, indent=1))
    print(f"== done in {elapsed():.0f} s; {out / 'nf4-speed.json'}", flush=True)


if __name__ == "__main__":
    main()
