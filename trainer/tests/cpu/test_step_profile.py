"""LORA_LENS_PROFILE_STEPS: a few LoRA steps of a tiny Qwen2 on the CPU under torch.profiler, their time split by
category into profile.json (schemas/profile.schema.json): the shares sum to 1, every category the step has is
present (matmul, attention, the RMSNorm/RoPE/SiLU scopes, AdamW), the scopes are gone afterwards, and the names
the rules read are sorted as they say."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch", reason="the profiler tests need torch (CPU is enough)")

from lora_lens_trainer import schema_check, step_profile  # noqa: E402
from lora_lens_trainer.collate import collate_padded  # noqa: E402
from lora_lens_trainer.data.tokenize import Example  # noqa: E402
from lora_lens_trainer.modeling import apply_method, decoder_and_head  # noqa: E402
from lora_lens_trainer.plan import plan_from_dict  # noqa: E402
from lora_lens_trainer.problems import ConfigProblem  # noqa: E402
from lora_lens_trainer.step import batch_loss  # noqa: E402
from tests.plans import make_plan  # noqa: E402
from tests.tiny_model import tiny_causal_lm  # noqa: E402

CPU = torch.device("cpu")


def _train(tmp_path, steps: int, profiled: int):
    base = tiny_causal_lm("qwen2", num_hidden_layers=2).train()
    plan = plan_from_dict(make_plan("/m", "/data/train.jsonl", method="lora", precision="fp32"))
    model = apply_method(base, plan, CPU, torch.float32, None, None).model
    body, head = decoder_and_head(model)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-3)
    gen = torch.Generator().manual_seed(1)
    rows = [Example(ids, ids) for ids in (torch.randint(3, 256, (n,), generator=gen).tolist() for n in (21, 13))]
    batch = collate_padded(rows, 0)
    profiler = step_profile.StepProfiler(tmp_path, model, CPU, profiled)
    for number in range(1, steps + 1):
        with profiler.step(number):
            loss = batch_loss(body, head, batch, float(batch.n_targets), CPU, None, "sdpa")
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
    return model, profiler


def test_a_profile_of_two_steps_splits_the_time_by_category(tmp_path) -> None:
    model, profiler = _train(tmp_path, steps=4, profiled=2)
    written = json.loads((tmp_path / "profile.json").read_text())
    assert written == profiler.result
    schema = schema_check.load_schema(schema_check.find_schema("profile.schema.json"))
    assert schema_check.errors(schema, written) == []
    assert (written["steps"], written["first_step"], written["basis"]) == (2, 2, "cpu operator self time")
    shares = written["shares"]
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-5)
    for category in ("matmul", "attention", "norm_rope_act", "optimizer"):
        assert shares[category] > 0, (category, written["top"])
    assert written["total_ms"] > 0 and written["per_step_ms"] == pytest.approx(written["total_ms"] / 2, rel=1e-3)
    top = {entry["name"]: entry["category"] for entry in written["top"]}
    assert top.get("aten::mm") == "matmul"
    # The scopes were taken off with the profiler: no module keeps a wrapped forward.
    assert not any("forward" in m.__dict__ for m in model.modules())


def test_no_steps_asked_writes_nothing(tmp_path) -> None:
    _, profiler = _train(tmp_path, steps=2, profiled=0)
    assert profiler.result is None and not (tmp_path / "profile.json").exists()


@pytest.mark.parametrize(
    "names,category",
    [
        (["sm90_xmma_gemm_bf16bf16_bf16f32", "aten::mm"], "matmul"),
        (["lora_matmul_kernel", "FusedLoraFn"], "matmul"),
        (["flash_fwd_kernel", "aten::_scaled_dot_product_flash_attention"], "attention"),
        (["vectorized_elementwise_kernel<MulFunctor>", "aten::mul", "lora_lens::rmsnorm"], "norm_rope_act"),
        (["rmsnorm_bwd_kernel", "_RMSNormFnBackward"], "norm_rope_act"),
        (["aten::mul", "autograd::engine::evaluate_function: SiluBackward0"], "norm_rope_act"),
        (["multi_tensor_apply_kernel", "aten::_fused_adamw_", "Optimizer.step#AdamW.step"], "optimizer"),
        (["aten::mul", "autograd::engine::evaluate_function: MulBackward0"], "other"),
        (["aten::embedding"], "other"),
    ],
)
def test_the_rules(names: list[str], category: str) -> None:
    assert step_profile.category_of(names) == category


def test_a_bad_step_count_is_a_config_problem(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv(step_profile.ENV, "three")
    with pytest.raises(ConfigProblem, match="LORA_LENS_PROFILE_STEPS='three'"):
        step_profile.for_run(tmp_path, torch.nn.Linear(1, 1), CPU, 0)
    monkeypatch.setenv(step_profile.ENV, "3")
    assert step_profile.for_run(tmp_path, torch.nn.Linear(1, 1), CPU, 0).steps == 3
    assert step_profile.for_run(tmp_path, torch.nn.Linear(1, 1), CPU, 1).steps == 0
