"""Lean QLoRA (quantization.upcast_non_quantized: false, our default): embeddings, head and norms stay bf16, the
adapters and their AdamW states fp32; and its loss curve over 300 steps matches the fp32-upcast run's within the
run-to-run noise, measured as the gap between two fp32-upcast runs that differ only in their seed."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the trainer is torch code (CPU is enough)")
pytest.importorskip("transformers", reason="the model is a transformers model")

from lora_lens_trainer.lora import LoraLinear  # noqa: E402
from lora_lens_trainer.modeling import load_model  # noqa: E402
from lora_lens_trainer.plan import plan_from_dict  # noqa: E402
from tests.plans import make_plan  # noqa: E402
from tests.tiny_model import tiny_causal_lm  # noqa: E402

CPU = torch.device("cpu")
STEPS, WINDOW, BATCH, LENGTH = 300, 25, 4, 24


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("lean") / "llama"
    tiny_causal_lm("llama").to(torch.bfloat16).save_pretrained(folder, safe_serialization=True)
    return folder


def _setup(folder: Path, upcast: bool):
    plan = plan_from_dict(
        make_plan(
            str(folder),
            str(folder / "train.jsonl"),
            method="qlora",
            training__gradient_checkpointing=False,
            quantization__upcast_non_quantized=upcast,
        )
    )
    return load_model(plan, CPU)


def test_lean_keeps_the_unquantized_weights_bf16_and_the_adapters_fp32(model_dir: Path):
    for upcast, frozen in ((False, torch.bfloat16), (True, torch.float32)):
        model = _setup(model_dir, upcast).model
        embed, head = model.get_input_embeddings().weight, model.get_output_embeddings().weight
        norms = [p for n, p in model.named_parameters() if n.endswith("norm.weight")]
        assert {embed.dtype, head.dtype} | {p.dtype for p in norms} == {frozen}, upcast
        adapters = [m for m in model.modules() if isinstance(m, LoraLinear)]
        assert adapters and all(m.lora_A.dtype == m.lora_B.dtype == torch.float32 for m in adapters)
        assert {p.dtype for p in model.parameters() if p.requires_grad} == {torch.float32}


def _curve(folder: Path, upcast: bool, seed: int) -> list[float]:
    """Window means of the training loss: memorising 16 fixed random sequences, batches drawn by `seed`."""
    torch.manual_seed(seed)
    setup = _setup(folder, upcast)
    model = setup.model.train()
    data = torch.randint(3, 256, (16, LENGTH), generator=torch.Generator().manual_seed(1234))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=2e-3)
    order = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(STEPS):
        batch = data[torch.randint(0, 16, (BATCH,), generator=order)]
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
    assert all(s["exp_avg"].dtype == torch.float32 for s in optimizer.state.values())
    return [sum(losses[i : i + WINDOW]) / WINDOW for i in range(0, STEPS, WINDOW)]


@pytest.fixture
def one_thread():
    # Two intra-op threads on a shared, busy machine spin-wait on each other: one thread is several times faster here.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_lean_loss_curve_matches_the_fp32_upcast_within_run_to_run_noise(model_dir: Path, one_thread: None):
    lean, upcast, upcast_other_seed = (
        _curve(model_dir, False, 0),
        _curve(model_dir, True, 0),
        _curve(model_dir, True, 1),
    )
    gap = sum(abs(a - b) for a, b in zip(lean, upcast)) / len(lean)
    noise = sum(abs(a - b) for a, b in zip(upcast, upcast_other_seed)) / len(upcast)
    print(
        f"window means, lean {[round(x, 3) for x in lean]}\n  upcast {[round(x, 3) for x in upcast]}\n"
        f"  mean |lean - upcast| {gap:.4f}, run-to-run noise (upcast, seed 0 vs 1) {noise:.4f}"
    )
    assert upcast[-1] < upcast[0] - 1.0  # it trains: the fixed sequences are being memorised
    assert gap <= noise
    assert abs(lean[-1] - upcast[-1]) <= max(abs(upcast[-1] - upcast_other_seed[-1]), 0.05)
