"""Classify your own images with a trained run: read, prepare as in training, forward, top-k (no Qt).

An image of any size and mode that Pillow reads is converted to the run's channels (grey or RGB) and then
goes through the same `prepare_batch` as the training data: scaled to [0, 1], normalised with the run's
per-channel mean/std and resized (bilinear) to the input size — squashed, not cropped, when it is not
square, so the whole picture is seen. `Prediction.input` is that tensor, for showing what the network sees.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .trained import TrainedNet

TOP_K = 3
_MODES = {1: "L", 3: "RGB"}


class ImageError(Exception):
    """A file that cannot be used as an image for this network; the message is for the user."""


@dataclass(frozen=True, eq=False)
class Prediction:
    probabilities: torch.Tensor  # (K,) softmax over every class
    top: tuple[tuple[str, float], ...]  # the k most likely (class name, probability), most likely first
    input: torch.Tensor  # (C, S, S) float: the prepared image exactly as the network received it
    original_size: tuple[int, int]  # (width, height) of the file's image


def read_image(path: str | os.PathLike[str], channels: int) -> torch.Tensor:
    """The image in `path` as uint8 (1, channels, H, W); ImageError when it is not a readable image."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if channels not in _MODES:
        raise ImageError(f"the network takes {channels} input channels; only 1 (grey) or 3 (RGB) can be made "
                         f"from an image file.")
    try:
        with Image.open(path) as image:
            image.load()
            converted = _flatten_alpha(image).convert(_MODES[channels])
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file.") from None
    except IsADirectoryError:
        raise ImageError(f"{path} is a folder, not an image.") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path} is not an image Pillow can read (PNG, JPEG, BMP, GIF, WebP, TIFF, ...).") from None
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{path} is too large to open safely: {exc}") from None
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or damaged image data
        raise ImageError(f"{path} cannot be read as an image: {exc}") from None
    array = np.asarray(converted, dtype=np.uint8)
    array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    return torch.from_numpy(array.copy()).unsqueeze(0)


def _flatten_alpha(image):
    """Transparent pixels over white (how a viewer shows them), instead of whatever colour they hide."""
    from PIL import Image

    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image


@torch.inference_mode()
def predict(net: TrainedNet, images_u8: list[torch.Tensor], k: int = TOP_K,
            model: torch.nn.Module | None = None) -> list[Prediction]:
    """Predictions for uint8 images (1, C, H, W) of any sizes; `model` reuses an already built `net.model()`."""
    if not images_u8:
        return []
    model = model if model is not None else net.model()
    inputs = torch.cat([net.preprocess(img) for img in images_u8])
    probs = model(inputs).float().softmax(dim=1)
    k = min(k, probs.shape[1])
    out = []
    for img, x, p in zip(images_u8, inputs, probs):
        values, indices = p.topk(k)
        top = tuple((net.classes[i], float(v)) for v, i in zip(values.tolist(), indices.tolist()))
        out.append(Prediction(probabilities=p, top=top, input=x, original_size=(img.shape[-1], img.shape[-2])))
    return out


def display_image(net: TrainedNet, x: torch.Tensor) -> np.ndarray:
    """A prepared input (C, S, S) back as uint8 (S, S) or (S, S, 3) pixels for showing: the normalisation undone."""
    mean = torch.tensor(net.mean).view(-1, 1, 1)
    std = torch.tensor(net.std).view(-1, 1, 1)
    pixels = (x * std + mean).mul(255).round().clamp(0, 255).to(torch.uint8)
    return pixels[0].numpy() if pixels.shape[0] == 1 else pixels.permute(1, 2, 0).contiguous().numpy()
