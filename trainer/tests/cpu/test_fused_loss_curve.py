"""Issue 28's loss-curve check on the CPU with the reference paths: 200 LoRA steps of a tiny Qwen2 with the fused ops
installed (LORA_LENS_FUSED_KERNELS; without Triton's interpreter each op takes its reference path, the formulas
the kernels are tested against) against the same steps without them, within run-to-run noise (the unfused run
with the adapters initialised from another seed), as 25-step window means. The GPU figure is
trainer/bench/fused_gpu.py's loss_curves part, with the kernels themselves."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="the loss-curve test needs torch (CPU is enough)")

from lora_lens_trainer.collate import collate_padded  # noqa: E402
from lora_lens_trainer.data.tokenize import Example  # noqa: E402
from lora_lens_trainer.kernels import fused_ops  # noqa: E402
from lora_lens_trainer.modeling import apply_method, decoder_and_head  # noqa: E402
from lora_lens_trainer.plan import plan_from_dict  # noqa: E402
from lora_lens_trainer.step import batch_loss  # noqa: E402
from tests.plans import make_plan  # noqa: E402
from tests.tiny_model import tiny_causal_lm  # noqa: E402

CPU = torch.device("cpu")
STEPS, WINDOW = 200, 25


def _curve(fused: bool, seed: int) -> list[float]:
    torch.manual_seed(0)  # the same base weights in every run
    base = tiny_causal_lm("qwen2", num_hidden_layers=2).train()
    plan = plan_from_dict(make_plan("/m", "/data/train.jsonl", method="lora", precision="fp32"))
    torch.manual_seed(seed)  # the adapters' initialisation
    model = apply_method(base, plan, CPU, torch.float32, None, None).model
    undo = fused_ops.install(model, frozenset(fused_ops.ALL)) if fused else None
    try:
        body, head = decoder_and_head(model)
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=3e-3)
        gen = torch.Generator().manual_seed(1)
        rows = [
            Example(ids, ids) for ids in (torch.randint(3, 256, (n,), generator=gen).tolist() for n in range(9, 25))
        ]
        batches = [collate_padded(rows[i : i + 4], 0) for i in range(0, len(rows), 4)]
        losses = []
        for step in range(STEPS):
            batch = batches[step % len(batches)]
            loss = batch_loss(body, head, batch, float(batch.n_targets), CPU, None, "sdpa")
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))
        return losses
    finally:
        if undo:
            undo()


def _means(xs: list[float]) -> list[float]:
    return [sum(xs[i : i + WINDOW]) / WINDOW for i in range(0, len(xs), WINDOW)]


def _distance(a: list[float], b: list[float]) -> float:
    return sum(abs(x - y) for x, y in zip(_means(a), _means(b))) / len(_means(a))


def test_200_steps_with_the_fused_ops_stay_within_run_to_run_noise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    used = {"norm": 0, "rope": 0, "swiglu": 0}
    for name, fn in (("norm", "rmsnorm_reference"), ("rope", "rope_reference"), ("swiglu", "swiglu_reference")):
        original = getattr(fused_ops, fn)
        monkeypatch.setattr(
            fused_ops, fn, lambda *a, _n=name, _f=original, **k: used.__setitem__(_n, used[_n] + 1) or _f(*a, **k)
        )
    fused = _curve(True, 0)
    assert all(n > 0 for n in used.values()), used  # the installed ops ran (their reference paths)
    plain, other_seed = _curve(False, 0), _curve(False, 1)
    assert _means(plain)[-1] < _means(plain)[0] - 0.5  # it learns: the comparison is over a falling curve
    noise = _distance(other_seed, plain)
    assert noise > 0
    assert _distance(fused, plain) <= noise, (_distance(fused, plain), noise)
