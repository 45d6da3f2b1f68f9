"""The training data stream: a deterministic, resumable order of batches.

Epoch ``e`` visits the permutation ``DistributedSampler(seed, epoch=e)`` (this rank's shard);
batches are consecutive ``batch_size`` slices of it, the last partial one dropped. The position
in the stream is ``(epoch, batch)``, saved in checkpoints: a resumed run starts at the same
batch without loading the batches before it. The loader has its own ``torch.Generator`` so
building an iterator never draws from the global RNG (which the models' noise uses).
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import DataLoader, DistributedSampler, Sampler

from ..data import build_dataset, validate_dataset
from ..data.folders import canonical_name
from ..errors import UserError, MissingFileError

DEFAULT_SCENES_TRAIN = 1000


class _ListSampler(Sampler):
    def __init__(self, indices: list[int]):
        self.indices = indices

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def check_data(dataset: str, dataroot, decode_images: bool = False) -> None:
    """Validate a dataset folder before anything is written (raises ``DatasetError`` listing
    every problem). The built-in scenes (no dataroot) need no check. ``decode_images`` decodes
    every image instead of checking headers and file ends."""
    if dataroot is None:
        if canonical_name(dataset) != "scenes":
            raise UserError(f"dataset {dataset!r} needs --dataroot (the folder holding its files); "
                             f"only 'scenes' has built-in data")
        return
    if not Path(dataroot).is_dir():
        raise MissingFileError(f"dataroot {dataroot} does not exist or is not a folder; give the "
                               f"folder that holds the dataset's files")
    validate_dataset(dataset, dataroot, "train", decode_images=decode_images)


def training_dataset(dataset: str, dataroot, size, seed: int, n: int | None = None):
    return build_dataset(dataset, dataroot, "train", size, train=True, seed=seed,
                         n=n if n is not None else (DEFAULT_SCENES_TRAIN if dataroot is None else None))


class BatchStream:
    """Batches of one rank for ``(epoch, start_batch)`` onwards."""

    def __init__(self, dataset, batch_size: int, seed: int, rank: int = 0, world_size: int = 1,
                 num_workers: int = 0, shuffle: bool = True):
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.rank, self.world_size = rank, world_size
        self.num_workers = num_workers
        self.sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank,
                                          shuffle=shuffle, seed=self.seed, drop_last=True)
        self.steps_per_epoch = len(self.sampler) // self.batch_size
        if self.steps_per_epoch < 1:
            raise UserError(
                f"the training set has {len(dataset)} items, fewer than one batch of "
                f"{self.batch_size} per process x {world_size} process(es); lower --batch-size")

    def epoch_indices(self, epoch: int) -> list[int]:
        self.sampler.set_epoch(epoch)
        return list(self.sampler)[: self.steps_per_epoch * self.batch_size]

    def batches(self, epoch: int, start: int = 0):
        """Iterate over the batches ``start, start + 1, ...`` of ``epoch``."""
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)  # fresh crops / flips per epoch (folder datasets)
        indices = self.epoch_indices(epoch)[start * self.batch_size:]
        loader = DataLoader(self.dataset, batch_size=self.batch_size, sampler=_ListSampler(indices),
                            drop_last=True, num_workers=self.num_workers,
                            generator=torch.Generator().manual_seed(self.seed + epoch),
                            persistent_workers=False)
        return iter(loader)

    def fixed_batches(self, count: int, salt: int = 0, batch_size: int | None = None):
        """``count`` batches drawn in a fixed order (EMA refresh, sample grids); a generator."""
        g = torch.Generator().manual_seed(self.seed * 1000003 + salt)
        n, bs = len(self.dataset), batch_size or self.batch_size
        for _ in range(count):
            idx = torch.randint(0, n, (bs,), generator=g).tolist()
            yield torch.utils.data.default_collate([self.dataset[i] for i in idx])
