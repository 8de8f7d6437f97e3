"""rank_memory (issue 21): the step event's per-rank memory, from the trainer's own collective (parallel/group.py)
across two real gloo processes, written through the EventWriter with the events schema checked
(LORA_LENS_VALIDATE_EVENTS=1). test/runs/rankMemory.test.ts checks the same schema on the TypeScript side."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the collective is torch.distributed (gloo on the CPU)")

from lora_lens_trainer.distributed import Placement  # noqa: E402
from lora_lens_trainer.events import EventSchemaError, EventWriter  # noqa: E402

WORLD = 2


def _figures(rank: int) -> dict[str, float]:
    # Rank 1 peaks higher, rank 0 reserves more: the maximum is taken key by key.
    return {
        "allocated_bytes": 1000.0 * (rank + 1),
        "reserved_bytes": 9000.0 - 1000.0 * rank,
        "peak_allocated_bytes": 2000.0 * (rank + 1),
        "device_used_bytes": 10000.0 + rank,
    }


def _rank_main(rank: int, port: int, out: str) -> None:
    import os

    import torch.distributed as dist

    from lora_lens_trainer.parallel.group import Grouped

    os.environ["LORA_LENS_VALIDATE_EVENTS"] = "1"
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    try:
        memory = Grouped(Placement(rank, WORLD, rank, torch.device("cpu"))).memory(_figures(rank))
        if rank == 0:
            events = EventWriter(Path(out))
            events.emit(
                "step",
                step=1,
                total_steps=1,
                epoch=1.0,
                loss=1.0,
                learning_rate=1e-4,
                grad_norm=1.0,
                tokens_per_second=1.0,
                **memory,
                elapsed_s=0.1,
                eta_s=0.0,
            )
            events.close()
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_ranks_write_the_maximum_and_each_rank_within_the_schema(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    torch.multiprocessing.spawn(_rank_main, args=(_free_port(), str(out)), nprocs=WORLD, join=True)
    (step,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["rank"] for r in step["rank_memory"]] == [0, 1]
    assert step["rank_memory"][1]["peak_allocated_bytes"] == 4000.0
    for key in ("allocated_bytes", "reserved_bytes", "peak_allocated_bytes", "device_used_bytes"):
        assert step[key] == max(_figures(r)[key] for r in range(WORLD)), key
        assert [r[key] for r in step["rank_memory"]] == [_figures(r)[key] for r in range(WORLD)]


def test_a_rank_row_without_its_rank_violates_the_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LORA_LENS_VALIDATE_EVENTS", "1")
    events = EventWriter(tmp_path / "events.jsonl")
    row = {"allocated_bytes": 1.0, "reserved_bytes": 1.0, "peak_allocated_bytes": 1.0, "device_used_bytes": None}
    step = dict(step=1, total_steps=1, epoch=1.0, loss=1.0, learning_rate=1e-4, grad_norm=None, tokens_per_second=None)
    memory = {k: 1.0 for k in ("allocated_bytes", "reserved_bytes", "peak_allocated_bytes", "device_used_bytes")}
    with pytest.raises(EventSchemaError, match="rank"):
        events.emit("step", **step, **memory, elapsed_s=0.1, eta_s=None, rank_memory=[row])
    events.emit("step", **step, **memory, elapsed_s=0.1, eta_s=None, rank_memory=[{"rank": 0, **row}])
    events.close()
