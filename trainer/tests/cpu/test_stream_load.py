"""The streaming NF4 load (model/stream_load.py): the same weights as from_pretrained followed by quantization, from a
model saved as several shards; broken checkpoints refused with the file and tensor named, before anything loads."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the loader is torch code (CPU is enough)")
pytest.importorskip("transformers", reason="the skeleton is a transformers model")

from lora_lens_trainer.model.checkpoint_files import INDEX_NAME, CheckpointError  # noqa: E402
from lora_lens_trainer.model.stream_load import plan_load, skeleton, stream_load  # noqa: E402
from lora_lens_trainer.modeling import ModelError, load_model  # noqa: E402
from lora_lens_trainer.nf4 import NF4Linear, quantize_model  # noqa: E402
from lora_lens_trainer.plan import plan_from_dict  # noqa: E402
from tests.plans import make_plan  # noqa: E402
from tests.tiny_model import tiny_causal_lm  # noqa: E402

CPU = torch.device("cpu")


def _save_sharded(folder: Path, arch: str, **overrides: object) -> Path:
    model = tiny_causal_lm(arch, **overrides).to(torch.bfloat16)
    model.save_pretrained(folder, safe_serialization=True, max_shard_size="40KB")
    assert (folder / INDEX_NAME).is_file() and len(list(folder.glob("*.safetensors"))) >= 3
    return folder


def _reference(folder: Path, double_quant: bool) -> torch.nn.Module:
    """What the trainer did before streaming: the whole bf16 model loaded, then quantized layer by layer."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.bfloat16, local_files_only=True)
    head = model.get_output_embeddings()
    skip = {name for name, m in model.named_modules() if m is head}
    quantize_model(model, skip, double_quant, torch.bfloat16, CPU)
    return model


def _streamed(folder: Path, double_quant: bool) -> torch.nn.Module:
    model = skeleton(folder, torch.bfloat16, "sdpa", False)
    load = plan_load(model, folder)
    assert load is not None
    return stream_load(model, load, CPU, torch.bfloat16, double_quant)


@pytest.mark.parametrize("arch,overrides", [("llama", {}), ("qwen2", {"tie_word_embeddings": True})])
@pytest.mark.parametrize("double_quant", [True, False])
def test_streamed_weights_equal_from_pretrained_then_quantized(
    tmp_path: Path, arch: str, overrides: dict, double_quant: bool
):
    folder = _save_sharded(tmp_path / "m", arch, **overrides)  # qwen2: q/k/v biases, and a tied head
    ours, theirs = _streamed(folder, double_quant), _reference(folder, double_quant)
    mine, ref = ours.state_dict(), theirs.state_dict()
    assert sorted(mine) == sorted(ref)
    for key in ref:
        assert mine[key].dtype == ref[key].dtype and torch.equal(mine[key], ref[key]), key
    nf4 = [n for n, m in ours.named_modules() if isinstance(m, NF4Linear)]
    assert len(nf4) == 2 * 7  # every decoder linear, not the head
    if overrides.get("tie_word_embeddings"):
        assert ours.get_output_embeddings().weight is ours.get_input_embeddings().weight
    ids = torch.tensor([[3, 17, 42, 5]])
    with torch.no_grad():
        assert torch.equal(ours(input_ids=ids).logits, theirs(input_ids=ids).logits)


def _shards(folder: Path) -> dict[str, str]:
    return json.loads((folder / INDEX_NAME).read_text())["weight_map"]


def test_a_missing_shard_is_named_with_the_tensors_it_held(tmp_path: Path):
    folder = _save_sharded(tmp_path / "m", "llama")
    victim = sorted(set(_shards(folder).values()))[1]
    (folder / victim).unlink()
    with pytest.raises(CheckpointError, match=rf"names {victim} \(holding '.*'.*\), but .*{victim} is not there"):
        plan_load(skeleton(folder, torch.bfloat16, "sdpa", False), folder)


def test_an_index_naming_a_tensor_its_shard_lacks_is_refused(tmp_path: Path):
    folder = _save_sharded(tmp_path / "m", "llama")
    index = json.loads((folder / INDEX_NAME).read_text())
    name, file = next(iter(index["weight_map"].items()))
    other = next(f for f in sorted(set(index["weight_map"].values())) if f != file)
    index["weight_map"][name] = other
    (folder / INDEX_NAME).write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match=rf"says tensor '{name}' is in {other}, but .* has no such tensor"):
        plan_load(skeleton(folder, torch.bfloat16, "sdpa", False), folder)


def test_a_tensor_of_the_wrong_shape_names_the_file_and_tensor(tmp_path: Path):
    from safetensors.torch import load_file, save_file

    folder = _save_sharded(tmp_path / "m", "llama")
    name = "model.layers.1.mlp.up_proj.weight"
    file = _shards(folder)[name]
    tensors = load_file(folder / file)
    tensors[name] = tensors[name][:, :32].contiguous()
    save_file(tensors, folder / file, metadata={"format": "pt"})
    with pytest.raises(
        CheckpointError,
        match=rf"{file}: tensor '{name}' has shape \[96, 32\], but config.json "
        rf"describes \[96, 64\]",
    ):
        plan_load(skeleton(folder, torch.bfloat16, "sdpa", False), folder)


def test_a_truncated_shard_is_refused_before_any_tensor_is_read(tmp_path: Path):
    folder = _save_sharded(tmp_path / "m", "llama")
    file = folder / sorted(set(_shards(folder).values()))[-1]
    data = file.read_bytes()
    file.write_bytes(data[: len(data) - 100])
    with pytest.raises(CheckpointError, match=rf"{file.name}: tensor '.*' ends at byte \d+ but the file has \d+ bytes"):
        plan_load(skeleton(folder, torch.bfloat16, "sdpa", False), folder)


def test_a_missing_tensor_is_named(tmp_path: Path):
    folder = _save_sharded(tmp_path / "m", "llama")
    index = json.loads((folder / INDEX_NAME).read_text())
    del index["weight_map"]["model.norm.weight"]
    (folder / INDEX_NAME).write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match="has no tensor 'model.norm.weight', which LlamaForCausalLM"):
        plan_load(skeleton(folder, torch.bfloat16, "sdpa", False), folder)


def test_load_model_streams_qlora_and_reports_a_broken_checkpoint_as_a_model_error(tmp_path: Path):
    folder = _save_sharded(tmp_path / "m", "llama")
    plan = plan_from_dict(
        make_plan(str(folder), str(tmp_path / "train.jsonl"), method="qlora", training__gradient_checkpointing=False)
    )
    setup = load_model(plan, CPU)
    assert setup.quantization_backend == "builtin-nf4"
    assert not [n for n, t in setup.model.state_dict(keep_vars=True).items() if t.device.type == "meta"]
    (folder / sorted(set(_shards(folder).values()))[0]).unlink()
    with pytest.raises(ModelError, match="is not there: the download is incomplete"):
        load_model(plan, CPU)


def test_the_trainer_refuses_a_truncated_checkpoint_before_training_and_writes_no_checkpoint(tmp_path: Path):
    from tests.cpu.trainer_process import train, write_plan
    from tests.tiny_model import build_model_dir, chat_rows, write_jsonl

    model_dir = build_model_dir(tmp_path / "model")
    weights = model_dir / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-64])
    train_file = write_jsonl(tmp_path / "train.jsonl", chat_rows(8))
    run_dir, out_dir = tmp_path / "run", tmp_path / "out"
    write_plan(
        run_dir, make_plan(str(model_dir), str(train_file), method="qlora", out=str(out_dir), training__max_steps=2)
    )
    code, events, stderr = train(run_dir)
    assert code != 0, stderr
    errors = [e for e in events if e["event"] == "error"]
    assert errors and errors[0]["kind"] == "model", events
    assert re.search(
        r"model\.safetensors: tensor '.+' ends at byte \d+ but the file has \d+ bytes", errors[0]["message"]
    )
    assert not [e for e in events if e["event"] in ("step", "checkpoint")]
    left = [p.name for p in [*run_dir.iterdir(), *(out_dir.iterdir() if out_dir.exists() else [])]]
    assert not [name for name in left if "checkpoint" in name or name.startswith("adapter")], left


def test_too_little_free_ram_is_refused_with_both_figures_before_a_tensor_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from lora_lens_trainer.model import checkpoint_files
    from lora_lens_trainer.model import stream_load as stream

    folder = _save_sharded(tmp_path / "m", "llama")
    plan = plan_from_dict(
        make_plan(str(folder), str(tmp_path / "train.jsonl"), method="qlora", training__gradient_checkpointing=False)
    )
    # The machine's MemAvailable is the one input that cannot be made small here; the figure it is compared with is real.
    monkeypatch.setattr(stream, "available_ram_bytes", lambda: 1024)

    def no_read(entry: checkpoint_files.TensorEntry) -> None:
        raise AssertionError(f"read {entry.name} after the RAM check failed")

    monkeypatch.setattr(stream, "read_tensor", no_read)
    with pytest.raises(
        ModelError,
        match=r"needs about 0\.\d GiB of RAM beyond what this process holds .* and 0\.0 GiB "
        r"is available: close other programs or use a machine with more RAM",
    ):
        load_model(plan, CPU)
