"""Where a training step's time goes: a few steps under torch.profiler, their time split into matmul, attention,
norm/rope/activation, optimizer and other, written to RUN_DIR/profile.json (schemas/profile.schema.json).

LORA_LENS_PROFILE_STEPS=N profiles steps 2..N+1 (the first step compiles kernels and fills the allocator's cache).

What is counted: on CUDA, the GPU kernels' own durations (the device's time, whatever the host did meanwhile); on the
CPU, each operator's self time. A kernel's category comes from its own name where that says it (cuBLAS/CUTLASS gemm,
flash attention, the fused Triton kernels, fused AdamW), else from the operators around the one that launched it,
innermost first: the aten op, the autograd node in backward (MmBackward0, SiluBackward0), the custom Function, and the
scopes this module opens around the model's RMSNorms, its activation and its RoPE function while it profiles (module
wrappers: eager norms and RoPE are generic element-wise kernels, which only their caller can name). An
element-wise backward node that several parts share (MulBackward0, AddBackward0) stays "other"; so do the loss,
the embedding and copies. `top` lists the largest names with their category, so the split can be checked.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import schema_check
from .atomic import write_json
from .problems import ConfigProblem

log = logging.getLogger("lora_lens_trainer")

ENV = "LORA_LENS_PROFILE_STEPS"
CATEGORIES = ("matmul", "attention", "norm_rope_act", "optimizer", "other")
SCOPE = {"norm": "lora_lens::rmsnorm", "act": "lora_lens::activation", "rope": "lora_lens::rope"}
TOP = 25

# Checked in this order against a kernel's name, then against each enclosing operator's name.
_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("optimizer", re.compile(r"Optimizer\.|adam|_foreach_|multi_tensor_apply|clip_grad|zero_grad", re.I)),
    ("attention", re.compile(r"attention|flash|fmha|sdpa|scaled_dot_product|softmax", re.I)),
    (
        "norm_rope_act",
        re.compile(
            r"lora_lens::(rmsnorm|activation|rope)|rmsnorm|rope_kernel|swiglu|silu|RMSNormFn|RopeFn|SwiGLUFn"
            r"|PowBackward|RsqrtBackward|MeanBackward|NegBackward|CatBackward|aten::(rsqrt|pow|mean)\b",
            re.I,
        ),
    ),
    (
        "matmul",
        re.compile(
            r"gemm|cutlass|xmma|cublas|nvjet|matmul|aten::(mm|addmm|bmm|linear|baddbmm)\b|(Mm|Addmm|Bmm)Backward"
            r"|LoraLinearFn|FusedLoraFn|lora_matmul|nf4|dequant",
            re.I,
        ),
    ),
]


def requested_steps() -> int:
    """How many steps LORA_LENS_PROFILE_STEPS asks for; 0 when unset."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return 0
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise ValueError(f"{ENV}={raw!r}: give the number of steps to profile, 1 to 100 (or leave it unset)")
    return int(raw)


def category_of(names: list[str]) -> str:
    """The category of the first name (a kernel's, then its enclosing operators', innermost first) a rule matches."""
    for name in names:
        for category, pattern in _RULES:
            if pattern.search(name):
                return category
    return "other"


def _ancestry(event: Any) -> list[str]:
    names = []
    while event is not None:
        names.append(event.name)
        event = event.cpu_parent
    return names


def _timed_entries(events: Any, on_device: bool) -> Iterator[tuple[str, str, float]]:
    """(name, category, microseconds) per kernel (CUDA) or per operator's self time (CPU)."""
    for event in events:
        if event.device_type != torch.autograd.DeviceType.CPU or event.is_async:
            continue
        if on_device:
            for kernel in event.kernels:
                yield kernel.name, category_of([kernel.name, *_ancestry(event)]), float(kernel.duration)
        elif event.self_cpu_time_total > 0 and event.name.startswith(("aten::", "lora_lens", "triton")):
            yield event.name, category_of(_ancestry(event)), float(event.self_cpu_time_total)


def shares_of(events: Any, on_device: bool) -> tuple[dict[str, float], list[dict[str, Any]], float]:
    """Each category's share of the counted time, the largest names, and the total in milliseconds."""
    per_category = dict.fromkeys(CATEGORIES, 0.0)
    per_name: dict[tuple[str, str], list[float]] = {}
    for name, category, us in _timed_entries(events, on_device):
        per_category[category] += us
        entry = per_name.setdefault((name, category), [0.0, 0])
        entry[0] += us
        entry[1] += 1
    total = sum(per_category.values())
    shares = {c: (v / total if total > 0 else 0.0) for c, v in per_category.items()}
    ranked = sorted(per_name.items(), key=lambda kv: -kv[1][0])[:TOP]
    top = [{"name": n[:200], "category": c, "ms": round(v[0] / 1e3, 4), "calls": int(v[1])} for (n, c), v in ranked]
    return shares, top, total / 1e3


@contextmanager
def scopes(model: nn.Module) -> Iterator[None]:
    """Profiler scopes around the model's RMSNorms, its MLPs' activation modules and its RoPE function, for as long
    as the block runs (recomputed forwards included)."""
    undo: list[Callable[[], None]] = []
    for m in model.modules():
        name = type(m).__name__
        label = SCOPE["norm"] if name.endswith("RMSNorm") else SCOPE["act"] if _is_activation(m) else None
        if label is None:
            continue
        # The forward wrapped, not hooks: a recompute that checkpoint stops early unwinds through the `with`.
        had = m.__dict__.get("forward")
        forward = m.forward

        def scoped_forward(*args: Any, _forward: Any = forward, _label: str = label, **kwargs: Any) -> Any:
            with torch.autograd.profiler.record_function(_label):
                return _forward(*args, **kwargs)

        m.forward = scoped_forward  # type: ignore[method-assign]
        undo.append(lambda m=m, had=had: _restore_forward(m, had))  # type: ignore[misc]
    for module_name in {type(m).__module__ for m in model.modules()}:
        module: Any = sys.modules.get(module_name)
        rope = getattr(module, "apply_rotary_pos_emb", None)
        if module is None or rope is None or not module_name.startswith("transformers.models."):
            continue

        def scoped(*args: Any, _rope: Any = rope, **kwargs: Any) -> Any:
            with torch.autograd.profiler.record_function(SCOPE["rope"]):
                return _rope(*args, **kwargs)

        module.apply_rotary_pos_emb = scoped
        undo.append(lambda module=module, rope=rope: setattr(module, "apply_rotary_pos_emb", rope))  # type: ignore[misc]
    try:
        yield
    finally:
        for u in reversed(undo):
            u()


def _restore_forward(m: nn.Module, had: Any) -> None:
    if had is None:
        m.__dict__.pop("forward", None)
    else:
        m.forward = had  # type: ignore[method-assign]


def _is_activation(m: nn.Module) -> bool:
    return isinstance(m, (nn.SiLU, nn.GELU)) or type(m).__name__ in (
        "SiLUActivation",
        "GELUActivation",
        "PytorchGELUTanh",
    )


def for_run(run_dir: Path, model: nn.Module, device: torch.device, rank: int) -> StepProfiler:
    """The run's profiler: LORA_LENS_PROFILE_STEPS steps on rank 0 (its folder's one writer), none elsewhere."""
    try:
        steps = requested_steps()
    except ValueError as error:
        raise ConfigProblem(str(error), [f"unset {ENV}, or set it to a step count such as 3"]) from error
    return StepProfiler(run_dir, model, device, steps if rank == 0 else 0)


class StepProfiler:
    """Profiles steps `first`..`first + steps - 1` (1-based, as the loop counts them) and writes profile.json."""

    def __init__(self, run_dir: Path, model: nn.Module, device: torch.device, steps: int, first: int = 2) -> None:
        self.run_dir, self.model, self.device = run_dir, model, device
        self.steps, self.first = steps, first
        self.result: dict[str, Any] | None = None

    @contextmanager
    def step(self, number: int) -> Iterator[None]:
        """Runs step `number` (1-based) under the profiler when it is one of the profiled steps (none when steps is 0:
        the steps run as they would without it)."""
        if not self.first <= number < self.first + self.steps or self.result is not None:
            yield
            return
        if number == self.first:
            self._start()
        yield
        if number == self.first + self.steps - 1:
            self._finish()

    def _start(self) -> None:
        activities = [torch.profiler.ProfilerActivity.CPU]
        if self.device.type == "cuda":
            activities.append(torch.profiler.ProfilerActivity.CUDA)
        self._scopes = scopes(self.model)
        self._scopes.__enter__()
        self._profiler = torch.profiler.profile(activities=activities)
        self._profiler.__enter__()

    def _finish(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self._profiler.__exit__(None, None, None)
        self._scopes.__exit__(None, None, None)
        on_device = self.device.type == "cuda"
        shares, top, total_ms = shares_of(self._profiler.events(), on_device)
        from .kernels.fused_ops import requested_ops

        self.result = {
            "version": 1,
            "steps": self.steps,
            "first_step": self.first,
            "device": torch.cuda.get_device_name(self.device) if on_device else "cpu",
            "basis": "gpu kernel time" if on_device else "cpu operator self time",
            "total_ms": round(total_ms, 3),
            "per_step_ms": round(total_ms / self.steps, 3),
            "shares": {c: round(v, 6) for c, v in shares.items()},
            "fused_kernels": sorted(requested_ops()),
            "top": top,
        }
        checked(self.result)
        write_json(self.run_dir / "profile.json", self.result)
        log.info("step profile (%s, %d steps): %s", self.result["basis"], self.steps, self.result["shares"])


class ProfileError(AssertionError):
    """The profile does not match schemas/profile.schema.json: a bug here, never the user's."""


def checked(profile: dict[str, Any]) -> dict[str, Any]:
    found = schema_check.find_schema("profile.schema.json")
    if found is None:  # a trainer copied out of the repository: written as is
        return profile
    problems = schema_check.errors(schema_check.load_schema(found), profile)
    if problems:
        raise ProfileError(f"the step profile does not match {found.name}: {'; '.join(problems)}")
    return profile
