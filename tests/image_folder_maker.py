"""Write an image folder from the real bundled sample: PNG and JPEG, mixed sizes and modes, some corrupt.

Used by the image-folder tests and by `benchmarks/bench_image_folder.py`. Each class folder is named
after its Fashion-MNIST class (with "/" replaced). With `exact=True` every image is a lossless 28x28 grey
PNG of one sample image, so a test can compare the cache with the sample pixel for pixel.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from vgg_studio import data

CORRUPT_KINDS = ("truncated.png", "not-an-image.jpg", "empty.png", "truncated.jpg")


@dataclass(frozen=True)
class MadeFolder:
    root: Path
    classes: tuple[str, ...]  # folder names, sorted
    written: int  # readable images written
    corrupt: tuple[str, ...]  # relative paths of the damaged files
    sources: dict[str, np.ndarray]  # relative path -> the 28x28 uint8 sample image it came from


def class_folder(name: str) -> str:
    return name.replace("/", "_")


def _variant(img28: np.ndarray, rng: np.random.Generator, sides: tuple[int, int]) -> tuple[Image.Image, str]:
    """One sample image as a user might have it: a random size, grey/RGB/RGBA/palette, PNG or JPEG."""
    side = int(rng.integers(*sides))
    aspect = float(rng.uniform(0.75, 1.33))
    size = (max(8, int(side * aspect)), side)
    grey = Image.fromarray(img28, "L").resize(size, Image.Resampling.BILINEAR)
    kind = rng.integers(0, 4)
    if kind == 0:
        im = grey
    elif kind == 1:  # a tinted colour picture
        tint = rng.uniform(0.6, 1.0, size=3)
        arr = (np.asarray(grey, dtype=np.float32)[..., None] * tint).astype(np.uint8)
        im = Image.fromarray(arr, "RGB")
    elif kind == 2:
        im = grey.convert("RGBA")
    else:
        im = grey.convert("RGB").convert("P")
    fmt = "JPEG" if im.mode in ("L", "RGB") and rng.random() < 0.5 else "PNG"
    return im, fmt


def make_image_folder(root: Path, per_class: int, classes: int = 10, corrupt: int = 3, seed: int = 0,
                      split: str = "train", exact: bool = False, layout: str = "classes",
                      sides: tuple[int, int] = (20, 72)) -> MadeFolder:
    """`classes` folders of `per_class` images each from the sample's `split`, then `corrupt` damaged files.

    Image heights are drawn from `sides` (widths vary by up to a third either way).
    layout "train/test" writes root/train/<class> and root/test/<class> (a fifth of each class in test).
    """
    full = data.load_dataset("sample")
    part = full.train if split == "train" else full.test
    images, labels = part.images[:, 0].numpy(), part.labels.numpy()
    rng = np.random.default_rng(seed)
    names = [class_folder(c) for c in full.classes[:classes]]
    sources: dict[str, np.ndarray] = {}
    for label, name in enumerate(names):
        picks = rng.choice(np.flatnonzero(labels == label), size=per_class, replace=False)
        for k, index in enumerate(picks):
            sub = "" if layout == "classes" else ("test/" if k < per_class // 5 else "train/")
            if exact:
                im, fmt = Image.fromarray(images[index], "L"), "PNG"
            else:
                im, fmt = _variant(images[index], rng, sides)
            rel = f"{sub}{name}/{k:04d}.{'jpg' if fmt == 'JPEG' else 'png'}"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            im.save(root / rel, fmt, quality=90) if fmt == "JPEG" else im.save(root / rel, fmt)
            sources[rel] = images[index]
    bad = []
    for k in range(corrupt):
        kind = CORRUPT_KINDS[k % len(CORRUPT_KINDS)]
        sub = "" if layout == "classes" else "train/"
        rel = f"{sub}{names[k % len(names)]}/zz-{k}-{kind}"
        path = root / rel
        if kind.startswith("truncated"):
            buf = io.BytesIO()
            Image.fromarray(images[k], "L").resize((64, 64)).save(buf, "PNG" if kind.endswith("png") else "JPEG")
            path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
        elif kind == "empty.png":
            path.write_bytes(b"")
        else:
            path.write_text("these are notes, not a picture\n")
        bad.append(rel)
    return MadeFolder(root, tuple(sorted(names)), len(sources), tuple(bad), sources)
