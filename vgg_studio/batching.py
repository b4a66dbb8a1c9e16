"""Batching on the training device: index batches and whole-batch resize/normalise (no Qt, no loaders).

The dataset lives as one uint8 tensor on the device (see `data`); a batch is an index tensor into it, and
turning a batch into network input is one batched op there instead of per-image PIL transforms.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import torch
import torch.nn.functional as F


def batch_indices(
    n: int, batch_size: int, generator: torch.Generator | None, device: torch.device | str
) -> list[torch.Tensor]:
    """Index batches over range(n) on `device`: a seeded permutation (None: in order); last partial batch kept."""
    if n < 0 or batch_size < 1:
        raise ValueError(f"batch_indices needs n >= 0 and batch_size >= 1 (got n={n}, batch_size={batch_size})")
    if n == 0:
        return []  # Tensor.split would give one empty batch
    if generator is None:
        order = torch.arange(n, device=device)
    else:
        order = torch.randperm(n, generator=generator, device=generator.device).to(device)
    return list(order.split(batch_size))


@lru_cache(maxsize=32)
def _affine(mean: tuple[float, ...], std: tuple[float, ...], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale and shift (1, C, 1, 1) that map uint8 values to normalised ones; cached so no per-batch copy."""
    m = torch.tensor(mean, dtype=torch.float64)
    s = torch.tensor(std, dtype=torch.float64)
    scale = (1.0 / (255.0 * s)).to(torch.float32).view(1, -1, 1, 1).to(device)
    shift = (-m / s).to(torch.float32).view(1, -1, 1, 1).to(device)
    return scale, shift


def prepare_batch(
    images_u8: torch.Tensor,
    size: int,
    mean: Sequence[float],
    std: Sequence[float],
    *,
    channels_last: bool = False,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Resize a uint8 batch (N, C, H, W) to size x size on its device, scale to [0, 1] and normalise.

    Normalising is done first, at the native size: bilinear interpolation (with or without antialias) is
    a weighted average with weights summing to 1, so it commutes with the per-channel affine map, and the
    affine map then touches 28x28 pixels instead of 224x224.
    """
    if images_u8.dim() != 4:
        raise ValueError(f"prepare_batch expects images (N, C, H, W), got shape {tuple(images_u8.shape)}")
    channels = images_u8.shape[1]
    mean_t, std_t = tuple(float(v) for v in mean), tuple(float(v) for v in std)
    if len(mean_t) != len(std_t) or len(mean_t) not in (1, channels):
        raise ValueError(f"mean/std have {len(mean_t)}/{len(std_t)} values for {channels} channel(s)")
    scale, shift = _affine(mean_t, std_t, images_u8.device)
    x = images_u8.to(torch.float32).mul_(scale).add_(shift)
    height, width = x.shape[-2:]
    if (height, width) != (size, size):
        downscale = size < height or size < width
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=downscale)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    return x.to(dtype=dtype, memory_format=memory_format)
