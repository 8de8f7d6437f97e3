"""Activation offload's pinned host memory, checked before the model loads (offload_ram.py): the bytes are the
estimate's (server memory/offloadRam.ts, the same hand figures as test/throughput/activationOffload.test.ts and
test/memory/autoCheckpoint.test.ts), and a plan that would pin more than MemAvailable is refused by the real trainer
process with both figures and what to do, before any weight is read."""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch", reason="the trainer process needs torch (CPU is enough)")
pytest.importorskip("transformers", reason="the trainer loads a tiny transformers model")

import torch  # noqa: E402

from lora_lens_trainer.model.stream_load import available_ram_bytes  # noqa: E402
from lora_lens_trainer.offload_ram import (  # noqa: E402
    OffloadRamError,
    check_offload_ram,
    check_offloaded_states,
    offloaded_state_bytes,
    pinned_bytes,
)
from lora_lens_trainer.plan import TrainingPlan, plan_from_dict  # noqa: E402
from tests.cpu.trainer_process import TIMEOUT_S, command, env, read_events, write_plan  # noqa: E402
from tests.plans import make_plan  # noqa: E402
from tests.tiny_model import build_model_dir, chat_rows, write_jsonl  # noqa: E402

QWEN2_7B = {"hidden_size": 3584, "num_hidden_layers": 28}


def _plan(**overrides: Any) -> TrainingPlan:
    settings: dict[str, Any] = {
        "training__gradient_checkpointing": True,
        "training__activation_offloading": True,
        "precision": "bf16-true",
    }
    settings.update(overrides)
    return plan_from_dict(make_plan("/m", "/data/train.jsonl", method="lora", **settings))


def _config(tmp_path: Path, config: Mapping[str, object]) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return path


def test_the_pinned_bytes_are_the_estimates() -> None:
    # Every layer, 4 x 2048 tokens, bf16: 28 x 3584 x 2 B x 8192 = 1,644,167,168 B (the estimate's RAM line).
    every = _plan(training__per_device_train_batch_size=4, data__max_length=2048)
    assert pinned_bytes(every, 3584, 28) == 1_644_167_168
    # auto's 27 of 28 at 4 x 4096: 3,170,893,824 B (2.95 GiB).
    auto = _plan(training__per_device_train_batch_size=4, data__max_length=4096, training__checkpoint_layers=27)
    assert pinned_bytes(auto, 3584, 28) == 3_170_893_824
    # An fp32 stream (fp32 weights) doubles it; no offload, or no checkpointing, pins nothing.
    assert (
        pinned_bytes(_plan(training__per_device_train_batch_size=4, data__max_length=2048, precision="fp32"), 3584, 28)
        == 2 * 1_644_167_168
    )
    assert pinned_bytes(_plan(training__activation_offloading=False), 3584, 28) == 0
    assert pinned_bytes(_plan(training__gradient_checkpointing=False), 3584, 28) == 0


def test_the_check_refuses_past_the_available_ram_less_the_margin_with_both_figures(
    tmp_path: Path, monkeypatch
) -> None:
    plan = _plan(training__per_device_train_batch_size=4, data__max_length=4096, training__checkpoint_layers=27)
    config = _config(tmp_path, QWEN2_7B)
    # 10% of MemAvailable is kept free, as the estimate's hostRamLimit keeps it: 3,170,893,824 / 0.9 is enough.
    enough = math.ceil(3_170_893_824 / 0.9) + 1
    check_offload_ram(plan, config, enough)
    with pytest.raises(OffloadRamError) as refused:
        check_offload_ram(plan, config, 3_170_893_824)
    message = str(refused.value)
    assert "needs about 3.0 GiB of pinned host memory (this process" in message
    assert (
        "this machine has 3.0 GiB available (MemAvailable), of which a run may pin 2.7 GiB (10% kept free)" in message
    )
    assert "Free RAM or use a machine with more" in message
    # Two torchrun ranks on this machine pin their own inputs each: twice the bytes against the same RAM.
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    with pytest.raises(OffloadRamError, match=r"about 5\.9 GiB .*\(2 processes on this machine together"):
        check_offload_ram(plan, config, 2 * enough - 3)
    # A multimodal config keeps the text model's width under text_config.
    check_offload_ram(plan, _config(tmp_path, {"text_config": QWEN2_7B}), 2 * enough)


def test_fsdp_cpu_offload_counts_the_trainable_shards_gradients_and_adam_states(monkeypatch) -> None:
    fsdp = {"hardware__distributed": "fsdp", "hardware__num_gpus": 2, "hardware__fsdp": {"offload_params": True}}
    plan = _plan(**fsdp)
    # Two trainable fp32 tensors of 1,000 and 24 elements: gradients (4 B) and AdamW's two states (8 B) each.
    params = [torch.nn.Parameter(torch.zeros(1000)), torch.nn.Parameter(torch.zeros(4, 6))]
    adamw = torch.optim.AdamW(params)
    assert offloaded_state_bytes(adamw, pinned=False) == 1024 * 12
    assert offloaded_state_bytes(torch.optim.SGD(params), pinned=False) == 1024 * 4
    # Pinned (a CUDA run): the host cache rounds each gradient up to a power of two: 4,000 B -> 4,096, 96 -> 128.
    assert offloaded_state_bytes(adamw, pinned=True) == 4096 + 128 + 1024 * 8
    enough = math.ceil(1024 * 12 / 0.9) + 1
    check_offloaded_states(plan, adamw, enough, pinned=False)
    with pytest.raises(OffloadRamError, match=r"gradients and adamw_torch states .* for the 1 rank\(s\) on this"):
        check_offloaded_states(plan, adamw, 1024 * 12, pinned=False)
    # The activations the first forward pins count with them.
    with pytest.raises(OffloadRamError, match=r"plus 0\.0 GiB of offloaded checkpointed layer inputs"):
        check_offloaded_states(plan, adamw, enough, pinned=False, activation_bytes=1024)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    with pytest.raises(OffloadRamError, match=r"for the 2 rank\(s\)"):
        check_offloaded_states(plan, adamw, enough, pinned=False)
    # Without FSDP offload, under DDP or one process (a leftover fsdp block is not used), or without the
    # MemAvailable figure, nothing is checked.
    check_offloaded_states(_plan(), adamw, 1, pinned=False)
    for other in ("ddp", "none"):
        check_offloaded_states(_plan(**{**fsdp, "hardware__distributed": other}), adamw, 1, pinned=False)
    check_offloaded_states(plan, adamw, None, pinned=False)


def test_without_config_or_meminfo_it_says_why_it_did_not_check(tmp_path: Path, caplog) -> None:
    plan = _plan(training__per_device_train_batch_size=4, data__max_length=4096)
    with caplog.at_level("INFO"):
        check_offload_ram(plan, None, 1)
        check_offload_ram(plan, _config(tmp_path, QWEN2_7B), None)
    assert "not checked before the load (no local config.json" in caplog.text
    assert "not checked (no /proc/meminfo MemAvailable" in caplog.text


@pytest.mark.skipif(available_ram_bytes() is None, reason="MemAvailable is Linux's")
def test_the_trainer_refuses_before_loading_a_model_whose_offload_cannot_be_pinned(tmp_path: Path) -> None:
    model = build_model_dir(tmp_path / "model", hidden=32, layers=2)
    train = write_jsonl(tmp_path / "train.jsonl", chat_rows(4))
    available = available_ram_bytes()
    assert available is not None
    # 2 layers x 32 x 4 B (fp32) x max_length 65,536 = 16 MiB a row: a batch sized to twice this machine's RAM.
    max_length = 65_536
    rows = 2 * available // (2 * 32 * 4 * max_length) + 1
    plan = make_plan(
        str(model),
        str(train),
        method="lora",
        precision="fp32",
        training__gradient_checkpointing=True,
        training__activation_offloading=True,
        training__per_device_train_batch_size=int(rows),
        training__max_steps=1,
        data__max_length=max_length,
    )
    plan["output"]["dir"] = str(tmp_path / "out")
    run_dir = tmp_path / "run"
    write_plan(run_dir, plan)
    done = subprocess.run(command(run_dir), env=env(), capture_output=True, text=True, timeout=TIMEOUT_S)
    assert done.returncode != 0, done.stderr[-2000:]
    events = read_events(run_dir)
    errors = [e for e in events if e["event"] == "error"]
    assert len(errors) == 1 and errors[0]["kind"] == "config", events
    assert "of pinned host memory" in errors[0]["message"] and "available (MemAvailable)" in errors[0]["message"]
    # Refused before the load: no step ran, and the trainer never reached the model's weights.
    assert not any(e["event"] == "step" for e in events)
    assert "Loading weights" not in done.stderr
