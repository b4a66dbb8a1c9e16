"""Make the bundled Fashion-MNIST sample: a class-balanced, reproducible draw from the official files.

    python resources/fashion-mnist-sample/make_sample.py [--source DIR] [--out FILE]

DIR holds the four official gzipped IDX files (default: ../shared/data/FashionMNIST/raw beside the
repository). Only numpy and the standard library are used, so the sample can be rebuilt without
torchvision or a network. The output is byte-reproducible for a given zlib: the draw uses a fixed seed
and the zip members carry a fixed timestamp.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

SEED = 0
TRAIN_PER_CLASS = 1000
TEST_PER_CLASS = 200
NUM_CLASSES = 10
HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parents[2] / "shared" / "data" / "FashionMNIST" / "raw"
DEFAULT_OUT = HERE / "fashion-mnist-sample.npz"
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the same arrays give the same bytes


def read_idx(path: Path, magic: int, ndim: int) -> np.ndarray:
    """One gzipped IDX file as a uint8 array; the header is checked, not trusted."""
    data = gzip.decompress(path.read_bytes())
    header = np.frombuffer(data, dtype=">u4", count=1 + ndim)
    if int(header[0]) != magic:
        raise ValueError(f"{path}: magic number {int(header[0])}, expected {magic} (not an IDX file of that kind)")
    shape = tuple(int(d) for d in header[1:])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 * (1 + ndim))
    if body.size != int(np.prod(shape)):
        raise ValueError(f"{path}: {body.size} bytes of data, header says {shape}")
    return body.reshape(shape)


def draw(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """`per_class` indices of each label, without replacement, returned in the official order."""
    picks = [rng.choice(np.flatnonzero(labels == c), size=per_class, replace=False) for c in range(NUM_CLASSES)]
    return np.sort(np.concatenate(picks))


def make_arrays(source: Path) -> dict[str, np.ndarray]:
    """The sample's arrays: images (N, 28, 28) uint8, labels (N,) uint8, source indices (N,) int32."""
    rng = np.random.default_rng(SEED)
    arrays: dict[str, np.ndarray] = {}
    for split, per_class in (("train", TRAIN_PER_CLASS), ("test", TEST_PER_CLASS)):
        image_file, label_file = FILES[split]
        images = read_idx(source / image_file, 2051, 3)
        labels = read_idx(source / label_file, 2049, 1)
        if len(images) != len(labels):
            raise ValueError(f"{source}: {len(images)} {split} images but {len(labels)} labels")
        index = draw(labels, per_class, rng)
        arrays[f"{split}_images"] = np.ascontiguousarray(images[index])
        arrays[f"{split}_labels"] = np.ascontiguousarray(labels[index])
        arrays[f"{split}_indices"] = index.astype(np.int32)
    return arrays


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like np.savez_compressed, but with fixed member timestamps; written to a temp file, then renamed."""
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, array, allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, buffer.getvalue(), compresslevel=9)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="folder with the four official .gz files")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the .npz file to write")
    args = parser.parse_args(argv)
    missing = [name for pair in FILES.values() for name in pair if not (args.source / name).is_file()]
    if missing:
        print(f"error: {args.source} lacks {', '.join(missing)}", file=sys.stderr)
        return 2
    arrays = make_arrays(args.source)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_npz(args.out, arrays)
    md5 = hashlib.md5(args.out.read_bytes(), usedforsecurity=False).hexdigest()
    counts = ", ".join(f"{split} {len(arrays[f'{split}_labels']):,}" for split in FILES)
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes, md5 {md5}): {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
