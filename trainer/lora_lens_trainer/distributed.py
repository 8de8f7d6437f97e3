"""Where this process trains: its rank, the world size and its device, read from what torchrun sets (RANK,
WORLD_SIZE, LOCAL_RANK). Without torchrun there is one process, rank 0. The device is the GPU of the local rank,
so several processes of one host each take their own card; without CUDA it is the CPU."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Placement:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    # Started by torchrun (TORCHELASTIC_RUN_ID): a process group exists even for one process, so one rank under
    # hardware.distributed ddp or fsdp is wrapped all the same (the GPU test's world size 1; FSDP's CPU offload).
    torchrun: bool = False

    @property
    def is_main(self) -> bool:
        """The process that writes events, checkpoints and the adapter once several train together."""
        return self.rank == 0


def _env_int(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(
            f"{name}={value!r} is not an integer (torchrun sets it; so should any other launcher)"
        ) from None


def placement(env: Mapping[str, str] | None = None, cuda: bool | None = None) -> Placement:
    env = os.environ if env is None else env
    rank, world_size = _env_int(env, "RANK", 0), _env_int(env, "WORLD_SIZE", 1)
    local_rank = _env_int(env, "LOCAL_RANK", 0)
    if not 0 <= rank < world_size:
        raise ValueError(f"RANK={rank} is outside WORLD_SIZE={world_size}")
    if cuda is None:
        cuda = torch.cuda.is_available()
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    return Placement(rank, world_size, local_rank, device, torchrun=bool(env.get("TORCHELASTIC_RUN_ID")))


def limit_memory(device: torch.device, env: Mapping[str, str] | None = None) -> None:
    """LORA_LENS_GPU_MEMORY_LIMIT (bytes) lets a big card behave like a smaller one: the caching allocator
    refuses beyond it, so an out-of-memory path can be tested on hardware that would not run out."""
    limit = (os.environ if env is None else env).get("LORA_LENS_GPU_MEMORY_LIMIT")
    if limit and device.type == "cuda":
        total = torch.cuda.mem_get_info(device)[1]
        torch.cuda.set_per_process_memory_fraction(min(1.0, float(limit) / total), device)


# How long a rank waits in a collective for the others (a checkpoint that only rank 0 writes, a lost peer under
# NCCL) before the run fails: LORA_LENS_DIST_TIMEOUT_S, default 30 minutes. A dead rank is seen sooner: gloo's
# connection closes, and torchrun stops the other ranks once one has exited.
DEFAULT_GROUP_TIMEOUT_S = 1800.0


def start_group(where: Placement, env: Mapping[str, str] | None = None) -> None:
    """Joins torchrun's process group: NCCL between GPUs, gloo on the CPU. No-op for one process not started by
    torchrun."""
    import datetime

    import torch.distributed as dist

    if (where.world_size == 1 and not where.torchrun) or dist.is_initialized():
        return
    env = os.environ if env is None else env
    die_with_launcher()
    timeout = float(env.get("LORA_LENS_DIST_TIMEOUT_S") or DEFAULT_GROUP_TIMEOUT_S)
    if where.device.type == "cuda":
        torch.cuda.set_device(where.device)
    dist.init_process_group(
        "nccl" if where.device.type == "cuda" else "gloo",
        timeout=datetime.timedelta(seconds=timeout),
        device_id=where.device if where.device.type == "cuda" else None,
    )


def die_with_launcher() -> None:
    """torchrun starts each rank in its own session, so a signal to the launcher's group does not reach the ranks
    and a launcher killed outright (SIGKILL) would leave them running: Linux's parent-death signal ends a rank with
    its launcher. Elsewhere nothing is set."""
    import ctypes
    import signal
    import sys

    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except OSError:
        return
    if os.getppid() != parent:  # the launcher died before the line above
        os._exit(1)


def peer_lost(error: BaseException) -> bool:
    """Whether an exception is a collective that failed because another rank went away or never answered."""
    import torch.distributed as dist

    if not dist.is_available() or not dist.is_initialized():
        return False
    if isinstance(error, getattr(dist, "DistError", ())):
        return True
    text = str(error)
    return any(
        mark in text
        for mark in (
            "Connection closed by peer",
            "Connection reset by peer",
            "gloo",
            "NCCL",
            "Timed out",
            "timed out",
            "Broken pipe",
        )
    )


def rank_from_env(env: Mapping[str, str] | None = None) -> int:
    """RANK as torchrun sets it, before anything else is known: rank 0 owns the run folder's files."""
    return _env_int(os.environ if env is None else env, "RANK", 0)
