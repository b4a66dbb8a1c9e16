"""A fixed random draw from the real bundled sample, so training tests stay fast on 2 cores."""

import dataclasses
import functools

import torch

from vgg_studio import data


@functools.cache
def sample_subset(n_train: int, n_test: int, seed: int = 0) -> data.Dataset:
    """`n_train` / `n_test` images drawn with `seed` from the class-balanced sample, on the CPU."""
    full = data.load_dataset("sample")
    g = torch.Generator().manual_seed(seed)
    tr = torch.randperm(len(full.train), generator=g)[:n_train]
    te = torch.randperm(len(full.test), generator=g)[:n_test]
    return dataclasses.replace(full, train=data.Split(full.train.images[tr], full.train.labels[tr]),
                               test=data.Split(full.test.images[te], full.test.labels[te]))
