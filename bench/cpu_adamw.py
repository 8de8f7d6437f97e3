#!/usr/bin/env python3
"""torch.optim.AdamW's update rate on the CPU, in parameters per second per core: the optimizer step an FSDP run with
CPU offload (`hardware.fsdp.offload_params`, FSDP2's CPUOffloadPolicy) takes on the host, over each rank's shard,
once per optimizer step. The time estimate's CPU optimizer line reads the figure this writes
(server/src/core/estimate/throughput/cpuOptimizer.ts).

Three implementations of the same update: the per-tensor loop (foreach=False, fused=False: what torch picks by default
for CPU tensors), the multi-tensor foreach path, and the fused CPU kernel (torch >= 2.4; the bundled trainer's
optim.py asks for fused=True whenever its device is CUDA, and the offloaded parameters it steps are on the CPU). Each
runs with 1 thread and with every core, on fp32 and bf16 parameters shaped as a decoder's weight shards (2048 x 2048
matrices and their 1-D norms), after two warm-up steps that create the states.

    .venv-trainer/bin/python bench/cpu_adamw.py [OUT.json] [--params 100e6] [--steps 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from typing import Any

import torch

VARIANTS: dict[str, dict[str, bool]] = {
    "for-loop": {"foreach": False, "fused": False},
    "foreach": {"foreach": True, "fused": False},
    "fused": {"fused": True},
}


def shard_tensors(total: int, dtype: torch.dtype) -> list[torch.nn.Parameter]:
    """`total` parameters as 2048 x 2048 matrices plus one 2048 vector per matrix, each with a random gradient."""
    side = 2048
    count = max(1, round(total / (side * side + side)))
    params: list[torch.nn.Parameter] = []
    for _ in range(count):
        for shape in ((side, side), (side,)):
            p = torch.nn.Parameter(torch.randn(shape, dtype=dtype))
            p.grad = torch.randn(shape, dtype=dtype)
            params.append(p)
    return params


def rate(params: list[torch.nn.Parameter], variant: dict[str, bool], steps: int) -> float:
    """Parameters updated per second in the median of `steps` steps, after two warm-up steps (the first creates the
    states). The median, not the mean: on a shared machine another process's burst slows a step or two."""
    optimizer = torch.optim.AdamW(params, lr=1e-5, weight_decay=0.01, **variant)
    for _ in range(2):
        optimizer.step()
    seconds: list[float] = []
    for _ in range(steps):
        start = time.perf_counter()
        optimizer.step()
        seconds.append(time.perf_counter() - start)
    return sum(p.numel() for p in params) / statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", nargs="?", default="bench/cpu_adamw.json")
    parser.add_argument("--params", type=float, default=100e6)
    parser.add_argument("--steps", type=int, default=7)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    rows: list[dict[str, Any]] = []
    for dtype in (torch.float32, torch.bfloat16):
        params = shard_tensors(int(args.params), dtype)
        for name, variant in VARIANTS.items():
            for threads in sorted({1, cores}):
                torch.set_num_threads(threads)
                per_second = rate(params, variant, args.steps)
                row = {
                    "variant": name,
                    "dtype": str(dtype).removeprefix("torch."),
                    "threads": threads,
                    "params_per_second": round(per_second),
                    "params_per_second_per_core": round(per_second / threads),
                }
                print(json.dumps(row), flush=True)
                rows.append(row)
        del params
    result = {
        "what": "torch.optim.AdamW update rate on the CPU (bench/cpu_adamw.py)",
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cpu_model": cpu_model(),
        "cores": cores,
        "params": int(args.params),
        "steps": args.steps,
        "load_average_before": os.getloadavg()[0],
        "rows": rows,
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
        f.write("\n")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    main()
