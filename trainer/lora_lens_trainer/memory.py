"""GPU memory figures for events, and the advice an out-of-memory error carries."""

from __future__ import annotations

from typing import Any

from .plan import TrainingPlan


def figures(device: Any) -> dict[str, float]:
    import torch

    if device is None or device.type != "cuda":
        return {"allocated_bytes": 0, "reserved_bytes": 0, "peak_allocated_bytes": 0, "device_used_bytes": 0}
    free, total = torch.cuda.mem_get_info(device)
    return {
        "allocated_bytes": torch.cuda.memory_allocated(device),
        "reserved_bytes": torch.cuda.memory_reserved(device),
        "peak_allocated_bytes": torch.cuda.max_memory_allocated(device),
        "device_used_bytes": total - free,
    }


def total_bytes(device: Any) -> float:
    import torch

    return float(torch.cuda.mem_get_info(device)[1]) if device is not None and device.type == "cuda" else 0.0


def oom_advice(plan: TrainingPlan, estimate_peak_bytes: float | None, total: float) -> list[str]:
    """Concrete changes, most effective first, each with the numbers to set."""
    t, d = plan.training, plan.data
    advice = []
    bs, acc = t.per_device_train_batch_size, t.gradient_accumulation_steps
    if bs > 1:
        half = max(1, bs // 2)
        advice.append(
            f"lower training.per_device_train_batch_size from {bs} to {half} and raise "
            f"gradient_accumulation_steps from {acc} to {acc * bs // half} (same effective batch)"
        )
    if not t.gradient_checkpointing:
        advice.append(
            "set training.gradient_checkpointing: true (activations are recomputed in backward; ~30% slower, far less memory)"
        )
    elif t.checkpoint_layers >= 0 and t.activation_offloading:  # auto offloaded k layers: every layer takes less
        advice.append(
            f"set training.gradient_checkpointing: offload (auto checkpointed and offloaded only the first "
            f"{t.checkpoint_layers} decoder layers; offload moves every layer's input to CPU memory)"
        )
    elif t.checkpoint_layers >= 0:  # auto chose a count from the estimate: the memory it left out was too little
        advice.append(
            f"set training.gradient_checkpointing: true (auto checkpointed only the first {t.checkpoint_layers} "
            "decoder layers; all of them keep about one layer's activations)"
        )
    if d.max_length > 512:
        advice.append(f"lower data.max_length from {d.max_length} to {d.max_length // 2} if your examples allow it")
    if plan.precision in ("bf16-mixed", "fp16-mixed") and plan.method == "full":
        advice.append("use precision: bf16-true (no fp32 master weights: about half the weight and optimizer memory)")
    if plan.method == "lora":
        advice.append("use method: qlora (4-bit base weights: about a quarter of the weight memory)")
    if plan.method == "full":
        advice.append("use method: lora (only adapters train: no gradients or optimizer states for the base weights)")
    if estimate_peak_bytes:
        gib = 1024**3
        advice.append(
            f"the estimate for this config was {estimate_peak_bytes / gib:.1f} GiB of {total / gib:.1f} GiB; "
            "run `lora-lens estimate` on the config to compare the options above"
        )
    return advice
