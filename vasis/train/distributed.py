"""Multi-process training under ``torchrun``: environment, process group, sync BN, data shards.

``torchrun --nproc_per_node=K run_analysis.py train ...`` sets ``RANK``, ``WORLD_SIZE`` and
``LOCAL_RANK``; :func:`setup` then joins the process group with NCCL on CUDA and gloo on the
CPU. Each rank reads its shard of the epoch's permutation (``DistributedSampler``); gradients
are averaged by ``DistributedDataParallel``; only rank 0 writes checkpoints and logs.

Sync BN: the official param-free ``SynchronizedBatchNorm2d`` layers become ``nn.SyncBatchNorm``
on CUDA only. ``nn.SyncBatchNorm`` has no CPU implementation, so on the CPU (gloo) the layers
stay per-process batch norms: statistics come from each rank's own sub-batch, and DDP
broadcasts rank 0's running statistics at every forward. The state dict is the same either way.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn as nn

from ..models.layers import SynchronizedBatchNorm2d
from ..errors import UserError


@dataclass(frozen=True)
class DistEnv:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    backend: str | None = None

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_info() -> tuple[int, int, int]:
    """(rank, world_size, local_rank) from torchrun's environment (0, 1, 0 without it)."""
    try:
        return (int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                int(os.environ.get("LOCAL_RANK", 0)))
    except ValueError as err:
        raise UserError(f"bad torchrun environment (RANK/WORLD_SIZE/LOCAL_RANK): {err}") from None


def setup(device: str | None = None) -> DistEnv:
    """Pick the device and, under torchrun, init the process group (nccl on CUDA, else gloo)."""
    rank, world, local = env_info()
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda":
        index = local if world > 1 else (dev.index or 0)
        dev = torch.device("cuda", index)
        torch.cuda.set_device(dev)
    if world <= 1:
        return DistEnv(0, 1, 0, dev, None)
    backend = "nccl" if dev.type == "cuda" else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return DistEnv(dist.get_rank(), dist.get_world_size(), local, dev, backend)


def teardown(env: DistEnv) -> None:
    if env.enabled and dist.is_initialized():
        dist.destroy_process_group()


def convert_sync_bn(module: nn.Module, device: torch.device) -> nn.Module:
    """Official sync BN layers -> ``nn.SyncBatchNorm`` on CUDA; unchanged on the CPU."""
    if device.type != "cuda":
        return module
    if isinstance(module, SynchronizedBatchNorm2d):
        new = nn.SyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                               module.track_running_stats)
        if module.affine:
            with torch.no_grad():
                new.weight.copy_(module.weight)
                new.bias.copy_(module.bias)
        new.running_mean = module.running_mean
        new.running_var = module.running_var
        new.num_batches_tracked = module.num_batches_tracked
        return new
    for name, child in module.named_children():
        new_child = convert_sync_bn(child, device)
        if new_child is not child:
            setattr(module, name, new_child)
    return module


def all_finite(flag: bool, env: DistEnv) -> bool:
    """True on every rank only if ``flag`` holds on every rank (one all-reduce under DDP)."""
    if not env.enabled:
        return flag
    t = torch.tensor([1 if flag else 0], dtype=torch.int32, device=env.device)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item())


def max_over_ranks(value: int, env: DistEnv) -> int:
    """The largest ``value`` of all ranks (one all-reduce under DDP), e.g. a stop request."""
    if not env.enabled:
        return int(value)
    t = torch.tensor([int(value)], dtype=torch.int64, device=env.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return int(t.item())


def gather_objects(obj, env: DistEnv) -> list:
    if not env.enabled:
        return [obj]
    out = [None] * env.world_size
    dist.all_gather_object(out, obj)
    return out


def barrier(env: DistEnv) -> None:
    if env.enabled:
        dist.barrier()
