"""Where this process trains: its rank, the world size and its device, read from what torchrun sets (RANK,
WORLD_SIZE, LOCAL_RANK). Without torchrun there is one process, rank 0. The device is the GPU of the local rank,
so several processes of one host each take their own card; without CUDA it is the CPU."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

import torch


@dataclass(frozen=True)
class Placement:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

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
        raise ValueError(f"{name}={value!r} is not an integer (torchrun sets it; so should any other launcher)") from None


def placement(env: Mapping[str, str] | None = None, cuda: bool | None = None) -> Placement:
    env = os.environ if env is None else env
    rank, world_size = _env_int(env, "RANK", 0), _env_int(env, "WORLD_SIZE", 1)
    local_rank = _env_int(env, "LOCAL_RANK", 0)
    if not 0 <= rank < world_size:
        raise ValueError(f"RANK={rank} is outside WORLD_SIZE={world_size}")
    if cuda is None:
        cuda = torch.cuda.is_available()
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    return Placement(rank, world_size, local_rank, device)


def limit_memory(device: torch.device, env: Mapping[str, str] | None = None) -> None:
    """LORA_LENS_GPU_MEMORY_LIMIT (bytes) lets a big card behave like a smaller one: the caching allocator
    refuses beyond it, so an out-of-memory path can be tested on hardware that would not run out."""
    limit = (os.environ if env is None else env).get("LORA_LENS_GPU_MEMORY_LIMIT")
    if limit and device.type == "cuda":
        total = torch.cuda.mem_get_info(device)[1]
        torch.cuda.set_per_process_memory_fraction(min(1.0, float(limit) / total), device)
