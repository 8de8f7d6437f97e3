"""The lifecycle's parts in-process, on real torch: checkpoint files and their damage, the fingerprint, the stop
flag's handling of a second signal, and the flattened packing FlashAttention-2 gets."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="checkpoint and collate tests need torch (CPU is enough)")

from lora_lens_trainer.collate import collate_packed  # noqa: E402
from lora_lens_trainer.data.tokenize import IGNORE, Example  # noqa: E402
from lora_lens_trainer.lifecycle import checkpoint, fingerprint  # noqa: E402
from lora_lens_trainer.plan import plan_from_dict  # noqa: E402
from lora_lens_trainer.stop import StopFlag  # noqa: E402
from tests.plans import make_plan  # noqa: E402

CPU = torch.device("cpu")


def _trained_parts(seed: int = 0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Linear(8, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0 / (1 + s))
    for _ in range(2):
        model(torch.randn(4, 8)).square().mean().backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
    return model, optimizer, scheduler


def _save(folder: Path, step: int, parts, keep: int | None = None) -> Path:
    return checkpoint.save(
        folder,
        step,
        *parts,
        {"epoch": 0, "batch_index": step, "tokens_seen": 0, "elapsed_s": 0.0},
        keep,
        {"plan": {}, "data": {}},
    )


def test_a_checkpoint_reads_back_whole_with_rng_states_under_weights_only(tmp_path):
    parts = _trained_parts()
    torch.manual_seed(123)
    path = _save(tmp_path, 2, parts)
    expected_draw = torch.rand(3)
    fresh = _trained_parts(seed=9)
    loaded = checkpoint.read(path, CPU)  # every torch.load in read() uses weights_only=True
    checkpoint.apply(loaded, *fresh)
    for a, b in zip(parts[0].parameters(), fresh[0].parameters()):
        assert torch.equal(a, b)
    assert fresh[1].state_dict()["state"][0]["step"] == parts[1].state_dict()["state"][0]["step"]
    assert torch.equal(torch.rand(3), expected_draw)
    manifest = json.loads((path / "trainer_state.json").read_text())["files"]
    assert set(manifest) == {"trainable.safetensors", "optimizer.pt", "scheduler.pt", "rng.pt"}
    assert all(m["sha256"] and m["bytes"] > 0 for m in manifest.values())


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda p: p.write_bytes(p.read_bytes()[:-10]), "bytes"),
        (lambda p: p.write_bytes(bytes(len(p.read_bytes()))), "SHA-256"),
        (lambda p: p.unlink(), "missing"),
    ],
)
def test_a_damaged_checkpoint_is_recognised_and_the_previous_one_used(tmp_path, damage, reason):
    parts = _trained_parts()
    _save(tmp_path, 1, parts)
    newest = _save(tmp_path, 2, parts)
    damage(newest / "optimizer.pt")
    with pytest.raises(checkpoint.CheckpointDamaged, match=reason):
        checkpoint.read(newest, CPU)
    seen = []
    loaded = checkpoint.newest_usable(tmp_path, CPU, lambda p, why, moved: seen.append((p.name, moved.name)))
    assert loaded is not None and loaded.step == 1
    assert seen == [("step-0000002", "step-0000002.damaged")]
    assert [s for s, _ in checkpoint.list_checkpoints(tmp_path)] == [1]


def test_an_interrupted_save_keeps_the_previous_checkpoint_and_the_limit_applies_after(tmp_path):
    parts = _trained_parts()
    _save(tmp_path, 1, parts, keep=1)

    class Broken:
        def state_dict(self):
            raise KeyboardInterrupt  # a second signal in the middle of the write

    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(tmp_path, 2, parts[0], Broken(), parts[2], {}, 1, {})
    assert [s for s, _ in checkpoint.list_checkpoints(tmp_path)] == [1]
    assert [p.name for p in tmp_path.iterdir()] == ["step-0000001"], "staging left behind"
    _save(tmp_path, 3, parts, keep=1)
    assert [s for s, _ in checkpoint.list_checkpoints(tmp_path)] == [3]


def _plan(train: Path, **overrides):
    return plan_from_dict(make_plan("/models/tiny", str(train), **overrides))


def test_the_fingerprint_refuses_changed_data_and_locked_plan_fields_only(tmp_path):
    train = tmp_path / "train.jsonl"
    train.write_text('{"text": "a"}\n')
    stored = fingerprint.of_run(_plan(train))
    assert fingerprint.mismatches(
        stored, fingerprint.of_run(_plan(train, training__save_steps=7, training__logging_steps=3))
    ) == ([], [])
    refusals, _ = fingerprint.mismatches(stored, fingerprint.of_run(_plan(train, training__seed=1)))
    assert refusals == ["plan training.seed: 42 -> 1"]
    train.write_text('{"text": "b"}\n')  # same size, new content
    refusals, _ = fingerprint.mismatches(stored, fingerprint.of_run(_plan(train)))
    assert refusals == [f"data.train {train} changed since the checkpoint (same size, different content)"]


def test_a_hub_model_is_pinned_by_its_cached_snapshot_commit_read_offline(tmp_path):
    import dataclasses

    train = tmp_path / "train.jsonl"
    train.write_text('{"text": "a"}\n')
    ref = dataclasses.replace(_plan(train).model, name_or_path="org/tiny", revision=None)
    cache = tmp_path / "hub"
    repo = cache / "models--org--tiny"
    assert fingerprint.model_fingerprint(ref, cache)["kind"] == "unknown"  # not cached: nothing to compare
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("a" * 40)
    stored = fingerprint.model_fingerprint(ref, cache)
    assert stored == {"source": "org/tiny", "kind": "hub", "commit": "a" * 40}
    (repo / "refs" / "main").write_text("b" * 40)  # the cache was updated to a newer commit of the model
    assert fingerprint.model_changes(stored, fingerprint.model_fingerprint(ref, cache)) == [
        "base model org/tiny: the cached snapshot is commit bbbbbbbbbbbb now, aaaaaaaaaaaa at the checkpoint"
    ]
    # Pinned to a commit by the plan: that commit, whatever main points at.
    pinned = dataclasses.replace(ref, revision="c" * 40)
    assert fingerprint.model_fingerprint(pinned, cache)["commit"] == "c" * 40
    # No readable ref: the files of the one cached snapshot, like a local folder's.
    (repo / "refs" / "main").unlink()
    (repo / "snapshots" / ("b" * 40)).mkdir(parents=True)
    (repo / "snapshots" / ("b" * 40) / "config.json").write_text("{}")
    files = fingerprint.model_fingerprint(ref, cache)
    assert files["kind"] == "hub-files" and list(files["hashed"]) == ["config.json"]
    (repo / "snapshots" / ("b" * 40) / "config.json").write_text('{"hidden_size": 8}')
    assert fingerprint.model_changes(files, fingerprint.model_fingerprint(ref, cache)) == [
        "base model org/tiny: config.json changed"
    ]


def test_a_file_too_large_to_hash_whole_is_sampled_and_its_mtime_counts(tmp_path, monkeypatch):
    monkeypatch.setattr(fingerprint, "FULL_HASH_BYTES", 1024)
    monkeypatch.setattr(fingerprint, "SAMPLE_BYTES", 256)
    path = tmp_path / "big.jsonl"
    path.write_bytes(b"x" * 4096)
    before = fingerprint.file_fingerprint(path)
    assert before["hashed"] == "sampled"
    os.utime(path, ns=(before["mtime_ns"] + 10**9, before["mtime_ns"] + 10**9))
    assert "modification time" in fingerprint._file_changed(before, fingerprint.file_fingerprint(path))


def test_a_second_signal_is_ignored_while_saving_and_abandons_otherwise():
    flag = StopFlag()
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    flag.install()
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        assert flag.requested == "SIGTERM"
        with flag.saving_section():
            os.kill(os.getpid(), signal.SIGTERM)  # noted, the write goes on
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _example(start: int, n: int, prompt: int) -> Example:
    ids = list(range(start, start + n))
    return Example(ids, [IGNORE] * prompt + ids[prompt:])


def test_flattened_packing_is_one_row_whose_positions_restart_at_each_example():
    rows = [[_example(10, 5, 2), _example(20, 3, 1)], [_example(30, 4, 0)]]
    packed = collate_packed(rows, 0, 16)
    flat = collate_packed(rows, 0, 16, flatten=True)
    assert packed.input_ids.shape == (2, 8) and flat.input_ids.shape == (1, 12)
    assert flat.attention_mask is None
    assert flat.position_ids.tolist() == [[0, 1, 2, 3, 4, 0, 1, 2, 0, 1, 2, 3]]
    assert flat.input_ids.tolist() == [[10, 11, 12, 13, 14, 20, 21, 22, 30, 31, 32, 33]]
    # Each example's last token predicts nothing: no target crosses into the next example.
    assert flat.targets.tolist() == [[IGNORE, 12, 13, 14, IGNORE, 21, 22, IGNORE, 31, 32, 33, IGNORE]]
    assert (flat.n_tokens, flat.n_targets) == (packed.n_tokens, packed.n_targets)


def test_the_flattened_row_gives_the_packed_batch_loss_when_split_at_position_resets():
    """What FlashAttention-2 does with the flat row (varlen attention per segment), done here with a block mask
    built from the position ids alone: the loss equals the (B, L) packed batch's."""
    pytest.importorskip("transformers")
    from transformers import LlamaConfig, LlamaForCausalLM

    from lora_lens_trainer.collate import Batch
    from lora_lens_trainer.step import batch_loss

    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=64,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            tie_word_embeddings=False,
        )
    )
    body, head = model.model, model.lm_head
    rows = [[_example(3, 5, 2), _example(20, 3, 1)], [_example(40, 6, 0)]]
    packed = collate_packed(rows, 0, 16)
    flat = collate_packed(rows, 0, 16, flatten=True)
    segment = (flat.position_ids[0] == 0).cumsum(0)
    n = segment.numel()
    mask = (segment[:, None] == segment[None, :]) & torch.ones(n, n, dtype=torch.bool).tril()
    split = Batch(flat.input_ids, flat.targets, mask[None, None], flat.position_ids, flat.n_tokens, flat.n_targets)
    # The same row read as one sequence (positions 0..n-1, plain causal mask): attention crosses the examples.
    crossing = Batch(
        flat.input_ids,
        flat.targets,
        torch.ones(1, n, dtype=torch.long),
        torch.arange(n)[None],
        flat.n_tokens,
        flat.n_targets,
    )
    with torch.no_grad():
        expected = batch_loss(body, head, packed, packed.n_targets, CPU, None, "sdpa")
        got = batch_loss(body, head, split, flat.n_targets, CPU, None, "sdpa")
        crossed = batch_loss(body, head, crossing, flat.n_targets, CPU, None, "sdpa")
    assert float(got) == pytest.approx(float(expected), rel=1e-5)
    assert abs(float(crossed) - float(expected)) > 1e-3, "the check cannot tell crossing attention apart"


def test_staging_left_by_a_killed_process_is_removed_and_a_half_replaced_checkpoint_restored(tmp_path):
    from lora_lens_trainer.atomic import remove_stale_staging

    parts = _trained_parts()
    _save(tmp_path, 1, parts)
    _save(tmp_path, 2, parts)
    (tmp_path / ".step-0000003.tmp-999999").mkdir()  # a write cut short
    os.replace(tmp_path / "step-0000002", tmp_path / ".step-0000002.old-999999")  # killed mid-replace
    remove_stale_staging(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-0000001", "step-0000002"]
    assert checkpoint.read(tmp_path / "step-0000002", CPU).step == 2


def test_a_plan_field_newer_than_the_checkpoint_does_not_block_the_resume(tmp_path):
    train = tmp_path / "train.jsonl"
    train.write_text('{"text": "a"}\n')
    current = fingerprint.of_run(_plan(train))
    stored = json.loads(json.dumps(current))
    del stored["plan"]["training"]["seed"]  # as if written before the field existed
    assert fingerprint.mismatches(stored, current) == ([], [])
