"""Training as one of several processes started by torchrun: the process group, sharding and reductions.

torchrun (`torch.distributed.run`) starts one process per device and sets WORLD_SIZE, RANK and LOCAL_RANK;
this module turns those into a `World`, joins the process group (NCCL for CUDA, Gloo for the CPU), and
gives the engine the few collective steps it needs. Every rank holds the whole data set on its device and
draws the same seeded permutation; each global batch is split into contiguous per-rank shards, so the
union of the shards is exactly the 1-process epoch. Only rank 0 writes the run folder and reports events.
No Qt here, and nothing home-made for communication: torch.distributed does it.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from .train_config import ConfigError

# A rank waits at most this long for the others in one collective step; a rank that died is usually
# noticed at once (its connection closes), this bounds the rest.
COLLECTIVE_TIMEOUT = datetime.timedelta(minutes=10)


@dataclass(frozen=True)
class World:
    """Where this process stands among the processes of one training run (size 1: on its own)."""

    size: int = 1
    rank: int = 0
    local_rank: int = 0
    backend: str | None = None  # "gloo" or "nccl" once the process group is joined

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def world_from_env(env: dict[str, str] | None = None) -> World:
    """The World torchrun describes in the environment; a plain process is a world of one."""
    env = os.environ if env is None else env
    try:
        size = int(env.get("WORLD_SIZE", "1"))
        rank = int(env.get("RANK", "0"))
        local_rank = int(env.get("LOCAL_RANK", "0"))
    except ValueError as exc:
        raise ConfigError(f"The torchrun environment is malformed ({exc}); start the run with "
                          f"`vgg-studio train --nproc-per-node N` or torchrun.") from None
    return World(size=max(size, 1), rank=rank, local_rank=local_rank)


def join(world: World, device: torch.device) -> tuple[World, torch.device]:
    """Join the process group of a multi-process run and pin this process to its device.

    On CUDA each process takes GPU LOCAL_RANK and NCCL; on the CPU Gloo. A world of one is returned as is.
    """
    if not world.distributed:
        return world, device
    if device.type == "cuda":
        if world.local_rank >= torch.cuda.device_count():
            raise ConfigError(f"Process {world.rank} wants GPU {world.local_rank}, but this machine has "
                              f"{torch.cuda.device_count()}; start at most that many processes per node.")
        torch.cuda.set_device(world.local_rank)
        device, backend = torch.device("cuda", world.local_rank), "nccl"
    elif device.type == "cpu":
        backend = "gloo"
    else:
        raise ConfigError(f"Training on several processes works on CUDA GPUs and on the CPU, not on {device.type}; "
                          f"choose --device cuda or cpu.")
    if not dist.is_initialized():
        kwargs = {"device_id": device} if backend == "nccl" else {}
        dist.init_process_group(backend, timeout=COLLECTIVE_TIMEOUT, **kwargs)
    return World(world.size, world.rank, world.local_rank, backend), device


def leave(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()


def check_batch_size(batch_size: int, world_size: int) -> None:
    """The global batch is split evenly across the processes; say so when it cannot be."""
    if world_size > 1 and batch_size % world_size:
        raise ConfigError(f"Batch size {batch_size} is the global batch and must divide evenly among the "
                          f"{world_size} processes; choose a multiple of {world_size}, such as "
                          f"{max(world_size, batch_size // world_size * world_size)}.")


def wrap(model: nn.Module, world: World, device: torch.device) -> nn.Module:
    """DistributedDataParallel around the model in a multi-process run (it averages gradients over ranks)."""
    if not world.distributed:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def unwrap(model: nn.Module) -> nn.Module:
    """The model itself, so checkpoints have the same keys whatever the number of processes."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def shard(indices: torch.Tensor, world: World) -> torch.Tensor:
    """This rank's contiguous part of one global batch (sizes differ by at most one on a short last batch)."""
    return indices.tensor_split(world.size)[world.rank] if world.distributed else indices


def all_sum(values: torch.Tensor, world: World) -> torch.Tensor:
    """Sum a small tensor over all ranks (in place); the engine calls it where it reads metrics back anyway."""
    if world.distributed:
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def gather_shards(local: torch.Tensor, total: int, world: World) -> torch.Tensor:
    """Concatenate every rank's `shard` of a length-`total` 1-D tensor, in rank order, on every rank."""
    if not world.distributed:
        return local
    size = -(-total // world.size)  # shards differ by one at most: pad each to the largest
    padded = torch.zeros(size, dtype=local.dtype, device=local.device)
    padded[: len(local)] = local
    parts = [torch.empty_like(padded) for _ in range(world.size)]
    dist.all_gather(parts, padded)
    lengths = [len(part) for part in torch.arange(total).tensor_split(world.size)]
    return torch.cat([part[:n] for part, n in zip(parts, lengths, strict=True)])


def all_devices(device: torch.device, world: World) -> list[str]:
    """Every rank's device, in rank order, for the run record."""
    if not world.distributed:
        return [str(device)]
    names: list[object] = [None] * world.size
    dist.all_gather_object(names, str(device))
    return [str(name) for name in names]
