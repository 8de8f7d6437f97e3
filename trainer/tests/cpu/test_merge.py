"""The end-of-run merge on the CPU with the real trainer: merged logits against the trained model within the
report's threshold (LoRA; QLoRA with the built-in NF4, merged into the dequantized NF4 weights by default, the
original weights on request, and the report tells them apart); a merge that fails leaves a completed run with
its adapter and a warning."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the merge tests run the real trainer: they need torch (CPU is enough)")
pytest.importorskip("transformers", reason="the merge tests need transformers")
pytest.importorskip("peft", reason="the merge goes through peft")

from lora_lens_trainer import merge as merge_mod  # noqa: E402
from lora_lens_trainer.plan import plan_from_dict  # noqa: E402
from tests.cpu.trainer_process import TRAINER_DIR, env, train, train_until, write_plan  # noqa: E402
from tests.plans import make_plan  # noqa: E402
from tests.tiny_model import build_model_dir, chat_rows, write_jsonl  # noqa: E402

QLORA = {
    "load_in_4bit": True,
    "bnb_4bit_quant_type": "nf4",
    "bnb_4bit_use_double_quant": True,
    "bnb_4bit_compute_dtype": "bfloat16",
    "prepare_for_kbit_training": True,
}


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("merge")
    return {
        "root": root,
        "model": build_model_dir(root / "tiny-llama", hidden=64, layers=2),
        "train": write_jsonl(root / "train.jsonl", chat_rows(32)),
    }


def merge_plan(assets: dict[str, Path], method: str, model: Path | None = None, **output: object) -> dict:
    targets = ["q_proj", "v_proj"] if method == "qlora" else "all-linear"
    plan = make_plan(
        str(model or assets["model"]),
        str(assets["train"]),
        method=method,
        training__max_steps=12,
        training__learning_rate=1e-2,
        training__save_steps=1000,
        lora__target_modules=targets,
    )
    if method == "qlora":
        plan["quantization"] = dict(QLORA)
    plan["output"] = {
        "dir": str(assets["root"]),
        "merge": True,
        "merge_dtype": "float32",
        "merge_base": "dequantized",
        "safe_serialization": True,
        **output,
    }
    return plan


def _report(run_dir: Path) -> dict:
    return json.loads((run_dir / "merged" / "merge_report.json").read_text())


def _logits(model_dir: Path, ids: torch.Tensor, adapter: Path | None = None) -> torch.Tensor:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    if adapter is not None:
        model = PeftModel.from_pretrained(model, str(adapter))
    with torch.no_grad():
        return model.eval()(input_ids=ids).logits


def test_lora_merge_matches_the_trained_model_within_the_reported_threshold(assets, tmp_path):
    run_dir = tmp_path / "lora"
    write_plan(run_dir, merge_plan(assets, "lora"))
    rc, events, stderr = train(run_dir)
    assert rc == 0, stderr[-3000:]
    assert events[-1]["status"] == "completed" and not [e for e in events if e.get("kind") == "merge"]
    report = _report(run_dir)
    check = report["check"]
    assert report["merge_base"] == "original" and check["passed"] and check["relative_rms"] <= check["threshold"]
    # bf16-true training, fp32 merge: the bf16 threshold (the coarser side), stated in the report.
    assert check["threshold"] == merge_mod.THRESHOLDS["bfloat16"]
    ids = torch.randint(0, 300, (2, 24), generator=torch.Generator().manual_seed(1))
    merged = _logits(run_dir / "merged", ids)
    adapted = _logits(assets["model"], ids, run_dir / "adapter")
    plain = _logits(assets["model"], ids)
    assert float((adapted - plain).norm() / plain.norm()) > 10 * merge_mod.THRESHOLDS["float32"], (
        "training moved nothing"
    )
    assert float((merged - adapted).norm() / adapted.norm()) < merge_mod.THRESHOLDS["float32"]


def test_qlora_merges_into_the_dequantized_nf4_weights_by_default_and_the_original_on_request(assets, tmp_path):
    from safetensors.torch import load_file

    from lora_lens_trainer import nf4

    run_dir = tmp_path / "qlora"
    write_plan(run_dir, merge_plan(assets, "qlora"))
    rc, events, stderr = train(run_dir)
    assert rc == 0, stderr[-3000:]
    dequantized = _report(run_dir)
    assert dequantized["merge_base"] == "dequantized" and dequantized["quantization_backend"] == "builtin-nf4"
    assert dequantized["check"]["passed"], dequantized
    # A layer without an adapter holds exactly the NF4 round trip of the original weight (in the compute dtype).
    original = load_file(str(assets["model"] / "model.safetensors"))
    merged = load_file(str(run_dir / "merged" / "model.safetensors"))
    key = "model.layers.0.self_attn.o_proj.weight"
    expected = nf4.dequantize(nf4.quantize(original[key], True), torch.bfloat16).float()
    assert torch.equal(merged[key], expected)
    assert not torch.equal(merged[key], original[key].float())

    plan = json.loads((run_dir / "plan.json").read_text())
    plan["output"]["merge_base"] = "original"
    (run_dir / "plan.json").write_text(json.dumps(plan))
    proc = subprocess.run(
        [sys.executable, "-m", "lora_lens_trainer", "merge", "--run-dir", str(run_dir)],
        cwd=TRAINER_DIR,
        env=env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    on_original = _report(run_dir)
    assert on_original["merge_base"] == "original" and on_original["check"]["passed"]
    assert "original" in on_original["check"]["reference"]
    assert torch.equal(load_file(str(run_dir / "merged" / "model.safetensors"))[key], original[key].float())
    # What the default avoids: the original base is far from the model that trained.
    near, far = dequantized["vs_trained_model"]["relative_rms"], on_original["vs_trained_model"]["relative_rms"]
    assert far > 5 * near and far > dequantized["check"]["threshold"], (near, far)


def test_a_failed_merge_is_a_warning_on_a_completed_run_with_the_adapter(assets, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(assets["model"], model)
    run_dir = tmp_path / "run"
    write_plan(run_dir, merge_plan(assets, "lora", model=model))

    def act(event: dict, _proc: subprocess.Popen) -> bool:
        if event["event"] == "start":  # the model is loaded: the merge will not find its weights any more
            (model / "model.safetensors").rename(tmp_path / "moved.safetensors")
            return True
        return False

    rc, events, stderr = train_until(run_dir, act)
    assert rc == 0, stderr[-3000:]
    warning = next(e for e in events if e["event"] == "warning" and e.get("kind") == "merge")
    assert "the merge failed" in warning["message"] and "lora_lens_trainer merge" in warning["message"]
    end = events[-1]
    assert end["status"] == "completed" and end["adapter_path"] == str(run_dir / "adapter")
    assert (run_dir / "adapter" / "adapter_model.safetensors").is_file() and not (run_dir / "merged").exists()


def test_the_check_fails_past_its_threshold_and_names_both_figures(assets):
    plan = plan_from_dict(merge_plan(assets, "qlora"))
    trained = torch.randn(2, 8, 50, generator=torch.Generator().manual_seed(0))
    close = trained + 1e-3 * torch.randn(trained.shape, generator=torch.Generator().manual_seed(1))
    far = trained + 0.2 * torch.randn(trained.shape, generator=torch.Generator().manual_seed(2))
    ok = merge_mod._check(plan, "dequantized", "builtin-nf4", trained, close, close, 16)
    bad = merge_mod._check(plan, "dequantized", "builtin-nf4", trained, far, far, 16)
    assert ok["check"]["passed"] and not bad["check"]["passed"]
    assert bad["check"]["relative_rms"] == pytest.approx(0.2, rel=0.1)
    # With the original base the fold is what is checked; the distance to the trained model is reported beside it.
    original = merge_mod._check(plan, "original", "builtin-nf4", trained, far, far, 16)
    assert original["check"]["passed"] and original["vs_trained_model"]["relative_rms"] > 0.1


def test_the_training_session_is_released_before_the_merge_starts(assets, tmp_path, monkeypatch):
    """In-process: at the moment the end-of-run merge is called, no model parameter, LoRA layer or optimizer of
    the training is alive any more (on a GPU that memory is then returned by empty_cache)."""
    import gc

    from lora_lens_trainer import train as train_mod
    from lora_lens_trainer.lora import LoraLinear

    seen: dict[str, int] = {}
    kinds = (LoraLinear, torch.optim.Optimizer, torch.nn.Parameter)
    # Objects other tests of this process keep alive are not this run's.
    before = {id(o) for o in gc.get_objects() if isinstance(o, kinds)}

    def observe(run_dir, plan, quantization_backend=None):
        objects = [o for o in gc.get_objects() if isinstance(o, kinds) and id(o) not in before]
        seen["lora_layers"] = sum(isinstance(o, LoraLinear) for o in objects)
        seen["optimizers"] = sum(isinstance(o, torch.optim.Optimizer) for o in objects)
        seen["parameter_elements"] = sum(o.numel() for o in objects if isinstance(o, torch.nn.Parameter))
        return {}

    monkeypatch.setattr(merge_mod, "merge", observe)
    monkeypatch.setenv("LORA_LENS_VALIDATE_EVENTS", "1")
    run_dir = tmp_path / "run"
    plan = merge_plan(assets, "lora")
    plan["training"]["max_steps"] = 2
    write_plan(run_dir, plan)
    import signal as signal_mod

    # run() installs the trainer's stop handlers; the test process gets its own back afterwards.
    handlers = {s: signal_mod.getsignal(s) for s in (signal_mod.SIGINT, signal_mod.SIGTERM)}
    try:
        assert train_mod.run(run_dir / "plan.json", run_dir, False) == 0
    finally:
        for s, h in handlers.items():
            signal_mod.signal(s, h)
    assert seen == {"lora_layers": 0, "optimizers": 0, "parameter_elements": 0}
