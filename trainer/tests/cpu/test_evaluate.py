"""`python -m lora_lens_trainer evaluate` on the CPU with the real trainer: a tiny model trained for a few steps on
a task it can learn (capitals, one sentence per answer), then evaluated against its base (the adapter disabled):
predictions.jsonl and report.json written, the tuned model's loss and answers really differ from the base's; the
same adapter in a folder laid out like axolotl's output_dir answers the same, batched or one prompt at a time; and
every refusal is a sentence with exit 1, nothing written."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="evaluate runs the real model: it needs torch (CPU is enough)")
pytest.importorskip("transformers", reason="evaluate needs transformers")
pytest.importorskip("peft", reason="evaluate loads adapters through peft")

from lora_lens_trainer.evaluate import EvalError  # noqa: E402
from lora_lens_trainer.evaluate.target import Overrides, resolve_target  # noqa: E402
from tests.cpu.trainer_process import TRAINER_DIR, env, train, write_plan  # noqa: E402
from tests.plans import make_plan  # noqa: E402
from tests.tiny_model import build_model_dir, chat_rows, write_jsonl  # noqa: E402

GENERAL_TEXT = "The quick brown fox jumps over the lazy dog. 12 + 30 = 42. " * 20


def evaluate(target: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lora_lens_trainer", "evaluate", "--target", str(target), *flags],
        cwd=TRAINER_DIR,
        env=env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def report_of(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def predictions(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]


def words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def overlap(lines: list[dict], side: str) -> float:
    """The mean share of each reference's words found in the answer."""
    return sum(len(words(l["reference"]) & words(l[side])) / len(words(l["reference"])) for l in lines) / len(lines)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("evaluate")
    model = build_model_dir(root / "tiny-llama", hidden=64, layers=2)
    train_file = write_jsonl(root / "train.jsonl", chat_rows(32))
    eval_file = write_jsonl(root / "eval.jsonl", chat_rows(16))
    (root / "general.txt").write_text(GENERAL_TEXT, encoding="utf-8")
    run_dir = root / "run"
    write_plan(
        run_dir,
        make_plan(
            str(model),
            str(train_file),
            eval_path=str(eval_file),
            out=str(root),
            precision="fp32",
            training__max_steps=40,
            training__learning_rate=1e-2,
            training__save_steps=1000,
        ),
    )
    rc, events, stderr = train(run_dir)
    assert rc == 0 and events[-1]["status"] == "completed", stderr[-3000:]
    return {"root": root, "model": model, "eval": eval_file, "run": run_dir}


@pytest.fixture(scope="module")
def run_report(trained: dict[str, Path]) -> dict:
    return report_of(
        evaluate(trained["run"], "--general-text", str(trained["root"] / "general.txt"), "--max-new-tokens", "24")
    )


def test_a_run_is_evaluated_against_its_base_and_the_tuned_model_really_differs(trained, run_report):
    out = trained["run"] / "eval"
    assert run_report["out"] == str(out) and run_report["kind"] == "run" and run_report["prompts"] == 16
    assert sorted(p.name for p in out.iterdir()) == ["predictions.jsonl", "report.json"]
    assert json.loads((out / "report.json").read_text()) == run_report
    lines = predictions(out)
    assert [l["row"] for l in lines] == list(range(16))
    assert lines[0]["prompt"] == "What is the capital of France?"
    assert lines[0]["reference"] == "The capital of France is Paris."
    assert all(isinstance(l["base"], str) and isinstance(l["tuned"], str) for l in lines)
    # The loss on the evaluation file: the adapter learned the task, the base (the same weights, adapter off) did not.
    loss = run_report["loss"]
    assert loss["base"]["tokens"] == loss["tuned"]["tokens"] > 0
    assert loss["tuned"]["loss"] < loss["base"]["loss"] / 2, loss
    # The answers: the tuned model says one sentence of the reference's shape and stops at <|im_end|>; the random
    # base rambles to max_new_tokens.
    generation = run_report["generation"]
    assert generation["stop_tokens"] == ["<|im_end|>"]
    assert generation["tuned"]["stopped"] == 16 and generation["base"]["stopped"] < 16
    assert overlap(lines, "tuned") > 0.5 > 0.2 > overlap(lines, "base"), (
        overlap(lines, "tuned"),
        overlap(lines, "base"),
    )


def test_the_forgetting_check_reports_general_text_perplexity_tuned_against_base(run_report):
    forgetting = run_report["forgetting"]
    base, tuned = forgetting["base"]["perplexity"], forgetting["tuned"]["perplexity"]
    assert forgetting["base"]["tokens"] == forgetting["tuned"]["tokens"] > 100
    assert base != tuned
    assert forgetting["change_percent"] == pytest.approx((tuned - base) / base * 100)
    assert forgetting["passed"] == (forgetting["change_percent"] <= forgetting["threshold_percent"] == 5.0)


def test_an_axolotl_output_dir_answers_as_the_run_does_batched_or_one_prompt_at_a_time(trained, run_report, tmp_path):
    # axolotl's output_dir: PEFT's two files (the base named in adapter_config.json), the config beside, no tokenizer
    # saved (the base's is used).
    out_dir = tmp_path / "outputs" / "lora-out"
    out_dir.mkdir(parents=True)
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        shutil.copy(trained["run"] / "adapter" / name, out_dir / name)
    (tmp_path / "outputs" / "config.yml").write_text(f"base_model: {trained['model']}\nadapter: lora\n")
    report = report_of(
        evaluate(out_dir, "--eval-file", str(trained["eval"]), "--max-new-tokens", "24", "--batch-size", "1")
    )
    assert report["kind"] == "peft" and report["base_model"] == str(trained["model"])
    assert report["adapter"] == str(out_dir) and report["out"] == str(out_dir / "eval")
    assert report["loss"]["tuned"]["loss"] == pytest.approx(run_report["loss"]["tuned"]["loss"], rel=1e-4)
    assert predictions(out_dir / "eval") == predictions(trained["run"] / "eval")


def test_an_earlier_evaluation_is_kept_unless_replace_is_passed(trained, run_report):
    before = (trained["run"] / "eval" / "predictions.jsonl").read_bytes()
    proc = evaluate(trained["run"])
    assert proc.returncode == 1 and proc.stdout == ""
    assert "eval exists already (an earlier evaluation); pass --replace" in proc.stderr
    assert (trained["run"] / "eval" / "predictions.jsonl").read_bytes() == before


def test_targets_that_cannot_be_evaluated_are_named_with_what_to_do(trained, tmp_path):
    def refusal(folder: Path, overrides: Overrides = Overrides()) -> str:
        with pytest.raises(EvalError) as caught:
            resolve_target(folder, overrides)
        return str(caught.value)

    assert "is not a folder" in refusal(tmp_path / "missing")
    empty = tmp_path / "empty"
    (empty / "checkpoint-10").mkdir(parents=True)
    (empty / "checkpoint-10" / "adapter_config.json").write_text("{}")
    assert refusal(empty).endswith(f"; {empty / 'checkpoint-10'} is an adapter checkpoint")
    nameless = tmp_path / "nameless"
    nameless.mkdir()
    (nameless / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 8}))
    (nameless / "adapter_model.safetensors").write_bytes(b"")
    assert "names no base_model_name_or_path; pass --base-model" in refusal(
        nameless, Overrides(eval_file=trained["eval"])
    )
    assert "pass --eval-file FILE" in refusal(nameless, Overrides(base_model="x"))
    no_weights = tmp_path / "no-weights"
    no_weights.mkdir()
    shutil.copy(nameless / "adapter_config.json", no_weights / "adapter_config.json")
    assert "no adapter_model.safetensors" in refusal(no_weights)
    no_eval = tmp_path / "no-eval"
    no_eval.mkdir()
    plan = json.loads((trained["run"] / "plan.json").read_text())
    plan["data"]["eval"] = None
    (no_eval / "plan.json").write_text(json.dumps(plan))
    shutil.copytree(trained["run"] / "adapter", no_eval / "adapter")
    assert "data.eval is not set; pass --eval-file" in refusal(no_eval)
    proc = evaluate(no_eval, "--rows", "0")
    assert (
        proc.returncode == 1 and "--rows must be at least 1; got 0" in proc.stderr and not (no_eval / "eval").exists()
    )
