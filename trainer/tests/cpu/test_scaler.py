"""LossScaler follows torch.amp.GradScaler's rules: same scale after any sequence of overflowing and clean steps,
same unscaled gradients, inf/nan detected; its state survives a round trip."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="the loss-scaler tests need torch")

from lora_lens_trainer.scaler import LossScaler  # noqa: E402


def _step_with(grad_value: float, ours: LossScaler, theirs, param_ours, param_theirs, opt) -> bool:
    param_ours.grad = torch.full_like(param_ours, grad_value)
    param_theirs.grad = torch.full_like(param_theirs, grad_value)
    found = ours.unscale_and_check([param_ours])
    ours.update(found)
    theirs.scale(torch.ones(()))  # GradScaler initialises its state lazily here
    theirs.step(opt)  # unscales, skips on inf
    theirs.update()
    assert torch.allclose(
        param_ours.grad, param_theirs.grad, equal_nan=True
    )  # GradScaler's unscale leaves the grads divided too
    return found


def test_scale_trajectory_equals_gradscaler():
    kwargs = dict(init_scale=1024.0, growth_factor=2.0, backoff_factor=0.5, growth_interval=3)
    ours = LossScaler(True, **kwargs)
    theirs = torch.amp.GradScaler("cpu", **kwargs)
    p_ours = torch.zeros(4, requires_grad=True)
    p_theirs = torch.zeros(4, requires_grad=True)
    opt = torch.optim.SGD([p_theirs], lr=0.0)
    pattern = [1.0, float("inf"), 1.0, 1.0, 1.0, 1.0, float("nan"), 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, float("-inf")]
    found, scales = [], []
    for value in pattern:
        found.append(_step_with(value * 1024.0, ours, theirs, p_ours, p_theirs, opt))
        assert ours.scale == theirs.get_scale()
        scales.append(ours.scale)
    assert found == [v != v or abs(v) == float("inf") for v in pattern]
    assert sorted(set(scales)) == [512.0, 1024.0, 2048.0]  # backed off and grew


def test_disabled_scaler_is_a_no_op():
    s = LossScaler(False)
    p = torch.ones(3, requires_grad=True)
    p.grad = torch.full((3,), 5.0)
    assert s.scale == 1.0 and s.unscale_and_check([p]) is False and torch.equal(p.grad, torch.full((3,), 5.0))
    s.update(True)
    assert s.scale == 1.0


def test_state_round_trip_and_mismatch():
    a = LossScaler(True, init_scale=8.0, growth_interval=2)
    a.update(False)
    b = LossScaler(True)
    b.load_state_dict(a.state_dict())
    b.update(False)
    a.update(False)
    assert a.scale == b.scale == 16.0
    with pytest.raises(ValueError, match="precision changed"):
        LossScaler(False).load_state_dict(a.state_dict())
    with pytest.raises(ValueError, match="growth_factor > 1"):
        LossScaler(True, growth_factor=1.0)
