"""target_modules: the trainer selects what PEFT selects. Every row of the shared table
(test/fixtures/target-modules.json, also run by the TypeScript estimate's test) against the trainer's
find_targets and against PEFT's own check_target_module_exists on a tiny Llama; the saved adapter_config.json
makes PEFT adapt the same modules again on load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the target-matching tests need torch")
peft = pytest.importorskip("peft", reason="the target-matching tests compare with PEFT")

from lora_lens_trainer.lora import find_targets, inject, lora_modules, save_adapter, target_matches  # noqa: E402
from tests.tiny_model import tiny_causal_lm  # noqa: E402

TABLE = json.loads((Path(__file__).resolve().parents[3] / "test/fixtures/target-modules.json").read_text())
ROWS = TABLE["rows"]


def _peft_selection(model: torch.nn.Module, targets) -> list[str]:
    from peft import LoraConfig
    from peft.tuners.tuners_utils import _maybe_include_all_linear_layers, check_target_module_exists

    config = _maybe_include_all_linear_layers(LoraConfig(target_modules=targets), model)
    return sorted(name for name, _ in model.named_modules() if name and check_target_module_exists(config, name))


@pytest.fixture(scope="module")
def model():
    return tiny_causal_lm("llama")


def test_the_table_covers_every_form():
    cases = [r["target_modules"] for r in ROWS]
    assert "all-linear" in cases and any(isinstance(c, str) and c != "all-linear" for c in cases)  # regex
    listed = [t for c in cases if isinstance(c, list) for t in c]
    assert any("." not in t for t in listed) and any(t.startswith("mlp.") for t in listed)  # suffix, dotted path
    assert any(t.startswith("layers.0.") for t in listed)  # layer-indexed


@pytest.mark.parametrize("row", ROWS, ids=[r["case"] for r in ROWS])
def test_row_matches_peft_and_the_trainer(model, row):
    targets = row["target_modules"]
    assert _peft_selection(model, targets) == sorted(row["adapted"] + row["other"])
    if row["other"]:
        with pytest.raises(ValueError, match="output head|not a linear layer"):
            find_targets(model, targets, model.lm_head)
    else:
        assert sorted(find_targets(model, targets, model.lm_head)) == row["adapted"]
    if targets != "all-linear":
        linear = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and n != "lm_head"]
        assert sorted(n for n in linear if target_matches(targets, n)) == row["adapted"]


def test_no_match_and_bad_regex_are_refused_clearly(model):
    fresh = tiny_causal_lm("llama")
    with pytest.raises(ValueError, match="matched no linear layer"):
        inject(fresh, ["attn.q_proj"], 4, 8.0, 0.0, False)
    with pytest.raises(ValueError, match="not a valid regular expression"):
        find_targets(model, "(q_proj", model.lm_head)


@pytest.mark.parametrize(
    "targets", [["q_proj", "mlp.down_proj"], ["layers.0.self_attn.q_proj"], ".*\\.(k_proj|up_proj)", "all-linear"]
)
def test_peft_loads_the_saved_adapter_onto_the_same_modules(tmp_path, targets):
    from peft import PeftModel

    ours = tiny_causal_lm("llama", seed=1)
    adapted = inject(ours, targets, 4, 8.0, 0.0, False)
    for m in lora_modules(ours).values():
        torch.nn.init.normal_(m.lora_B, std=0.1)
    save_adapter(ours, tmp_path, "tiny", 4, 8.0, 0.0, False, adapted)
    config = json.loads((tmp_path / "adapter_config.json").read_text())
    assert config["target_modules"] == (targets if isinstance(targets, str) else sorted(targets))
    loaded = PeftModel.from_pretrained(tiny_causal_lm("llama", seed=1), tmp_path)
    from peft.tuners.lora import LoraLayer

    prefix = "base_model.model."
    wrapped = sorted(n[len(prefix) :] for n, m in loaded.named_modules() if isinstance(m, LoraLayer))
    assert wrapped == sorted(adapted)
    ids = torch.randint(3, 256, (2, 11), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        from lora_lens_trainer.loss import transformed_logits
        from lora_lens_trainer.modeling import decoder_and_head

        body, head = decoder_and_head(ours)
        mine = transformed_logits(body(input_ids=ids).last_hidden_state, head.weight, None, head.transform)
        theirs = loaded(input_ids=ids).logits
    assert torch.allclose(mine, theirs, atol=1e-5, rtol=1e-5)
