"""The fused RMSNorm, RoPE and SwiGLU kernels (kernels/norm_rope_triton.py) under Triton's interpreter on the CPU, against
transformers' formulas (the reference paths in kernels/fused_ops.py): forward and backward within bf16 noise (the
RMSNorm forward nearly bit for bit), on the strided views the attention passes, and a few LoRA training steps of a tiny
bf16 Qwen2 with the kernels installed (the fused LoRA matmul too: test_fused_lora.py) against the same steps without
them."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="the kernel tests need torch (CPU is enough)")
pytest.importorskip("triton", reason="the kernel tests run Triton's interpreter")

from lora_lens_trainer.collate import collate_padded  # noqa: E402
from lora_lens_trainer.data.tokenize import Example  # noqa: E402
from lora_lens_trainer.kernels import fused_ops, lora_fused  # noqa: E402
from lora_lens_trainer.lora import lora_modules  # noqa: E402
from lora_lens_trainer.modeling import apply_method, decoder_and_head  # noqa: E402
from lora_lens_trainer.plan import plan_from_dict  # noqa: E402
from lora_lens_trainer.step import batch_loss  # noqa: E402
from tests.plans import make_plan  # noqa: E402
from tests.tiny_model import tiny_causal_lm  # noqa: E402

BF16 = torch.bfloat16


@pytest.fixture(autouse=True)
def _interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRITON_INTERPRET", "1")


def _bf16_close(actual: torch.Tensor, expected: torch.Tensor, ulps: float = 2.0) -> None:
    """Within `ulps` bf16 steps (2^-7 relative) of the largest expected value."""
    err = float((actual.float() - expected.float()).abs().max() / expected.float().abs().max())
    assert err <= ulps * 2**-7, f"max error {err / 2**-7:.2f} bf16 steps of the largest value"


def _as_accurate(fused: torch.Tensor, reference: torch.Tensor, exact: torch.Tensor) -> None:
    """Within bf16 noise: the fused result is no further from the fp32 computation than transformers' bf16 path is
    (twice its error, or a bf16 step of the largest value, whichever is larger)."""
    e_fused = float((fused.float() - exact).abs().max())
    e_ref = float((reference.float() - exact).abs().max())
    assert e_fused <= max(2 * e_ref, 2**-7 * float(exact.abs().max())), (e_fused, e_ref)


@pytest.mark.parametrize("hidden,weight_dtype", [(96, BF16), (200, BF16), (64, torch.float32)])
def test_rmsnorm_forward_and_backward_within_bf16_noise(hidden: int, weight_dtype) -> None:
    gen = torch.Generator().manual_seed(hidden)
    x = (3 * torch.randn(3, 7, hidden, generator=gen)).to(BF16).requires_grad_()
    w = (1 + 0.2 * torch.randn(hidden, generator=gen)).to(weight_dtype).requires_grad_()
    y = fused_ops.fused_rmsnorm(x, w, 1e-6)
    ref = fused_ops.rmsnorm_reference(x, w, 1e-6)
    assert y.dtype == ref.dtype and y.shape == ref.shape
    # The same roundings; only 1/sqrt against torch.rsqrt (and the order of the row's sum) can move an element
    # across a bf16 rounding boundary: at most one bf16 step, and rarely.
    _bf16_close(y, ref, 1.0)
    assert float((y == ref).float().mean()) >= 0.98
    g = torch.randn(ref.shape, generator=gen).to(ref.dtype)
    dx, dw = torch.autograd.grad(y, (x, w), g)
    dx_ref, dw_ref = torch.autograd.grad(ref, (x, w), g)
    x32, w32 = x.detach().float().requires_grad_(), w.detach().float().requires_grad_()
    dx32, dw32 = torch.autograd.grad(fused_ops.rmsnorm_reference(x32, w32, 1e-6), (x32, w32), g.float())
    _as_accurate(dx, dx_ref, dx32)
    _as_accurate(dw, dw_ref, dw32)


def test_rmsnorm_of_a_frozen_weight_forms_no_weight_gradient() -> None:
    x = torch.randn(5, 32).to(BF16).requires_grad_()
    w = torch.ones(32, dtype=BF16)
    (dx,) = torch.autograd.grad(fused_ops.fused_rmsnorm(x, w, 1e-6).sum(), (x,))
    (dx_ref,) = torch.autograd.grad(fused_ops.rmsnorm_reference(x, w, 1e-6).sum(), (x,))
    _bf16_close(dx, dx_ref)


def _attention_views(gen: torch.Generator, heads: int, batch: int = 2, seq: int = 6, dim: int = 16) -> torch.Tensor:
    """q or k as the attention makes them: a projection's output viewed as heads, transposed (strided)."""
    leaf = torch.randn(batch, seq, heads * dim, generator=gen).to(BF16).requires_grad_()
    return leaf, (leaf * 1).view(batch, seq, heads, dim).transpose(1, 2)


@pytest.mark.parametrize("heads_q,heads_k", [(4, 2), (3, 3)])
def test_rope_on_strided_q_and_k_forward_and_backward_within_bf16_noise(heads_q: int, heads_k: int) -> None:
    gen = torch.Generator().manual_seed(heads_q)
    angles = torch.randn(2, 6, 8, generator=gen)
    cos = torch.cat([angles.cos()] * 2, -1).to(BF16)
    sin = torch.cat([angles.sin()] * 2, -1).to(BF16)
    pq, q = _attention_views(gen, heads_q)
    pk, k = _attention_views(gen, heads_k)
    qf, kf = fused_ops.fused_rope(q, k, cos, sin)
    assert qf.stride() == q.stride()  # the projection's layout, as the reference's result
    rq = pq.detach().clone().requires_grad_()  # the same values, for the reference
    rk = pk.detach().clone().requires_grad_()
    pq_ref = rq.view(2, 6, heads_q, 16).transpose(1, 2)
    pk_ref = rk.view(2, 6, heads_k, 16).transpose(1, 2)
    qr, kr = fused_ops.rope_reference(pq_ref, pk_ref, cos, sin)
    q32 = rq.detach().float().requires_grad_()
    k32 = rk.detach().float().requires_grad_()
    qe, ke = fused_ops.rope_reference(
        q32.view(2, 6, heads_q, 16).transpose(1, 2),
        k32.view(2, 6, heads_k, 16).transpose(1, 2),
        cos.float(),
        sin.float(),
    )
    _as_accurate(qf, qr, qe)
    _as_accurate(kf, kr, ke)
    gq, gk = torch.randn(qr.shape, generator=gen).to(BF16), torch.randn(kr.shape, generator=gen).to(BF16)
    dq, dk = torch.autograd.grad((qf, kf), (pq, pk), (gq, gk))
    dq_ref, dk_ref = torch.autograd.grad((qr, kr), (rq, rk), (gq, gk))
    dq32, dk32 = torch.autograd.grad((qe, ke), (q32, k32), (gq.float(), gk.float()))
    _as_accurate(dq, dq_ref, dq32)
    _as_accurate(dk, dk_ref, dk32)


def test_swiglu_forward_and_backward_as_accurate_as_the_bf16_reference() -> None:
    gen = torch.Generator().manual_seed(7)
    gate = (2 * torch.randn(3, 5, 200, generator=gen)).to(BF16).requires_grad_()
    up = torch.randn(3, 5, 200, generator=gen).to(BF16).requires_grad_()
    y, ref = fused_ops.fused_swiglu(gate, up), fused_ops.swiglu_reference(gate, up)
    g32, u32 = gate.detach().float().requires_grad_(), up.detach().float().requires_grad_()
    exact = fused_ops.swiglu_reference(g32, u32)
    _as_accurate(y, ref, exact)
    dy = torch.randn(y.shape, generator=gen).to(BF16)
    dg, du = torch.autograd.grad(y, (gate, up), dy)
    dg_ref, du_ref = torch.autograd.grad(ref, (gate, up), dy)
    dg32, du32 = torch.autograd.grad(exact, (g32, u32), dy.float())
    _as_accurate(dg, dg_ref, dg32)
    _as_accurate(du, du_ref, du32)


def _train(kernels: bool, steps: int = 3) -> list[float]:
    base = tiny_causal_lm("qwen2", num_hidden_layers=2).to(BF16).train()
    plan = plan_from_dict(make_plan("/m", "/data/train.jsonl", method="lora", precision="bf16-true"))
    model = apply_method(base, plan, torch.device("cpu"), BF16, None, None).model
    undo = fused_ops.install(model) if kernels else None
    try:
        body, head = decoder_and_head(model)
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=1e-2)
        gen = torch.Generator().manual_seed(1)
        rows = [Example(ids, ids) for ids in (torch.randint(3, 256, (n,), generator=gen).tolist() for n in (21, 13))]
        batch = collate_padded(rows, 0)
        losses = []
        for _ in range(steps):
            loss = batch_loss(body, head, batch, float(batch.n_targets), torch.device("cpu"), None, "sdpa")
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))
        assert len(lora_modules(model)) > 0
        return losses
    finally:
        if undo:
            undo()


def test_a_few_training_steps_with_the_kernels_match_the_unfused_path(monkeypatch: pytest.MonkeyPatch) -> None:
    used = {"norm": 0, "rope": 0, "swiglu": 0, "lora": 0}
    norm_apply, rope_apply, swiglu_apply, lora_apply = (
        fused_ops._RMSNormFn.apply,
        fused_ops._RopeFn.apply,
        fused_ops._SwiGLUFn.apply,
        lora_fused.FusedLoraFn.apply,
    )
    monkeypatch.setattr(
        lora_fused.FusedLoraFn, "apply", lambda *a: used.__setitem__("lora", used["lora"] + 1) or lora_apply(*a)
    )
    monkeypatch.setattr(
        fused_ops._RMSNormFn, "apply", lambda *a: used.__setitem__("norm", used["norm"] + 1) or norm_apply(*a)
    )
    monkeypatch.setattr(
        fused_ops._RopeFn, "apply", lambda *a: used.__setitem__("rope", used["rope"] + 1) or rope_apply(*a)
    )
    monkeypatch.setattr(
        fused_ops._SwiGLUFn, "apply", lambda *a: used.__setitem__("swiglu", used["swiglu"] + 1) or swiglu_apply(*a)
    )
    fused = _train(True)
    assert all(n > 0 for n in used.values()), used  # the kernels ran
    counted = dict(used)
    plain = _train(False)
    assert used == counted  # uninstalled: the plain path ran no kernel
    assert fused[-1] < fused[0]  # it trains
    for a, b in zip(fused, plain):
        assert a == pytest.approx(b, rel=2e-2), (fused, plain)
