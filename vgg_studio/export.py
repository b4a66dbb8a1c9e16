"""Take the network out of the app: chapter-style Python, ONNX, a torch.export program, or the weights (no Qt).

Every format starts from one `TrainedNet` (a run's trained weights and preprocessing, or a bare architecture
with a seeded Xavier init) and the one model builder, so an export never holds a second description of the
network. The exported graphs take the *prepared* input — (N, C, S, S) float, normalised with the run's
per-channel mean/std and resized to S — with a dynamic batch dimension, and return logits; the class names,
mean, std and the architecture travel in each format's metadata.

ONNX needs `onnx` and `onnxscript`, safetensors weights need `safetensors`: the optional `export` extra
(`pip install "vgg-studio[export]"`). Everything else needs only torch.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .atomic import atomic_write
from .export_python import PythonExportError, python_source
from .spec import to_json
from .trained import TrainedNet

FORMATS = ("python", "onnx", "pt2", "weights")
SUFFIXES = {".py": "python", ".onnx": "onnx", ".pt2": "pt2", ".safetensors": "weights", ".pt": "weights",
            ".pth": "weights"}  # fmt: skip
DEFAULT_SUFFIX = {"python": ".py", "onnx": ".onnx", "pt2": ".pt2", "weights": ".safetensors"}
TORCH_SUFFIXES = (".pt", ".pth")  # weights written with torch.save, no extra needed
EXTRA = "export"
INPUT_NAME, OUTPUT_NAME = "images", "logits"
META_FILE = "vgg-studio.json"  # inside the pt2 archive


class ExportError(Exception):
    """An export that cannot be written; the message says why and what to do."""


@dataclass(frozen=True)
class Exported:
    """What one export wrote: the files (main one first) and a line describing the result for the user."""

    files: tuple[Path, ...]
    description: str


def format_for(path: str | os.PathLike[str]) -> str | None:
    """The format a file name asks for by its suffix, or None."""
    return SUFFIXES.get(Path(path).suffix.lower())


def needed_packages(fmt: str, out: str | os.PathLike[str] | None = None) -> tuple[str, ...]:
    """The optional packages an export needs: ONNX needs onnx and onnxscript, safetensors weights safetensors."""
    if fmt == "onnx":
        return ("onnx", "onnxscript")
    if fmt == "weights" and (out is None or Path(out).suffix.lower() not in TORCH_SUFFIXES):
        return ("safetensors",)
    return ()


def missing_message(missing: list[str] | tuple[str, ...]) -> str:
    """What to tell the user when `missing` packages are not installed: they come with the `export` extra."""
    many = len(missing) > 1
    return (f"this export needs the optional package{'s' if many else ''} {' and '.join(missing)}, which "
            f"{'are' if many else 'is'} not installed. Install the '{EXTRA}' extra: "
            f"pip install \"vgg-studio[{EXTRA}]\"")


def missing_packages(fmt: str, out: str | os.PathLike[str] | None = None) -> list[str]:
    """Which of `needed_packages` are not installed, found without importing them (cheap, for a dialog)."""
    missing = []
    for name in needed_packages(fmt, out):
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


def require_extra(*modules: str) -> None:
    """Import `modules` or raise ExportError naming the `export` extra that provides them."""
    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ExportError(missing_message(missing))


def check_destination(out: str | os.PathLike[str]) -> Path:
    """The output path, if its folder exists and it is not itself a folder; ExportError otherwise."""
    path = Path(out).expanduser()
    if path.is_dir():
        raise ExportError(f"{path} is a folder; give a file name, such as {path / 'network'}.")
    if not path.parent.is_dir():
        raise ExportError(f"the folder {path.parent} does not exist; create it first or choose another place.")
    if not os.access(path.parent, os.W_OK):
        raise ExportError(f"cannot write into {path.parent} (no permission).")
    return path


def metadata(net: TrainedNet) -> dict[str, str]:
    """String key/values for ONNX metadata_props and safetensors: the architecture and, for a run, its data."""
    meta = {"vgg_studio.architecture": to_json(net.spec), "vgg_studio.source": net.source,
            "vgg_studio.input": f"{INPUT_NAME}: float32 (N, {net.spec.in_channels}, {net.spec.input_size}, "
                                f"{net.spec.input_size}), pixels/255 normalised per channel with mean/std"}
    if net.trained:
        meta.update({"vgg_studio.classes": json.dumps(list(net.classes)), "vgg_studio.mean": json.dumps(net.mean),
                     "vgg_studio.std": json.dumps(net.std), "vgg_studio.trained": net.summary})
    return meta


def export(net: TrainedNet, fmt: str, out: str | os.PathLike[str]) -> Exported:
    """Write `net` in `fmt` to `out` (plus companion files beside it); raises ExportError with the reason."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}.")
    path = check_destination(out)
    writer = {"python": _python, "onnx": _onnx, "pt2": _pt2, "weights": _weights}[fmt]
    try:
        return writer(net, path)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None


def _example(net: TrainedNet) -> torch.Tensor:
    s = net.spec
    return torch.zeros(2, s.in_channels, s.input_size, s.input_size)  # batch 2: 1 would be specialised


def _batch_dim() -> tuple[dict[int, Any], ...]:
    return ({0: torch.export.Dim("batch")},)


def _shape_text(net: TrainedNet) -> str:
    s = net.spec
    return (f"input '{INPUT_NAME}' (N, {s.in_channels}, {s.input_size}, {s.input_size}), "
            f"output '{OUTPUT_NAME}' (N, {s.num_classes})")


def _trained_words(net: TrainedNet) -> str:
    return "trained weights" if net.trained else f"untrained (Xavier init, seed {net.seed})"


def _python(net: TrainedNet, path: Path) -> Exported:
    weights = path.with_suffix(".pt") if net.trained else None
    if weights is not None and weights == path:
        raise ExportError(f"give the Python file a .py name ({path.name} would be overwritten by its weights).")
    try:
        source = python_source(net, weights.name if weights else None)
    except PythonExportError as exc:
        raise ExportError(str(exc)) from None
    files = [path]
    if weights is not None:
        state = net.weights()
        atomic_write(weights, lambda fh: torch.save(state, fh))
        files.append(weights)
    atomic_write(path, lambda fh: fh.write(source.encode("utf-8")))
    what = f"with its weights in {weights.name}" if weights else "untrained"
    return Exported(tuple(files), f"chapter-style PyTorch code ({what}); needs only torch")


def _onnx(net: TrainedNet, path: Path) -> Exported:
    require_extra(*needed_packages("onnx"))
    model = net.model()
    program = torch.onnx.export(model, (_example(net),), dynamo=True, input_names=[INPUT_NAME],
                                output_names=[OUTPUT_NAME], dynamic_shapes=_batch_dim(), verbose=False)
    program.model.metadata_props.update(metadata(net))
    program.model.doc_string = f"vgg-studio: {net.spec.name} from {net.source}"
    # ONNX writes its weights to a second file when they pass 2 GB: save into a temporary folder beside
    # the target, then move every file it wrote, so no half-written model is ever left under the name.
    with tempfile.TemporaryDirectory(prefix=".export-", dir=path.parent) as tmp:
        program.save(Path(tmp) / path.name)
        written = sorted(Path(tmp).iterdir(), key=lambda f: f.name != path.name)
        files = []
        for f in written:
            os.replace(f, path.parent / f.name)
            files.append(path.parent / f.name)
    opset = next((o.version for o in _onnx_opsets(path) if o.domain in ("", "ai.onnx")), None)
    return Exported(tuple(files), f"ONNX{f' opset {opset}' if opset else ''}, {_shape_text(net)}, dynamic "
                                  f"batch, {_trained_words(net)}")


def _onnx_opsets(path: Path):
    import onnx

    return onnx.load(str(path), load_external_data=False).opset_import


def _pt2(net: TrainedNet, path: Path) -> Exported:
    program = torch.export.export(net.model(), (_example(net),), dynamic_shapes=_batch_dim())
    extra = {META_FILE: json.dumps(metadata(net), indent=2)}
    atomic_write(path, lambda fh: torch.export.save(program, fh, extra_files=extra))
    return Exported((path,), f"torch.export program (load with torch.export.load(...).module()), "
                             f"{_shape_text(net)}, dynamic batch, {_trained_words(net)}")


def arch_path(weights: Path) -> Path:
    """Where the architecture JSON goes beside a weights file: `net.safetensors` -> `net.arch.json`."""
    return weights.with_name(weights.stem + ".arch.json")


def _weights(net: TrainedNet, path: Path) -> Exported:
    torch_file = path.suffix.lower() in TORCH_SUFFIXES
    require_extra(*needed_packages("weights", path))
    state = net.weights()
    if torch_file:
        atomic_write(path, lambda fh: torch.save(state, fh))
        kind = "torch state_dict (torch.load(..., weights_only=True))"
    else:
        from safetensors.torch import save

        blob = save(state, metadata=metadata(net))
        atomic_write(path, lambda fh: fh.write(blob))
        kind = "safetensors state_dict (metadata: architecture, classes, mean, std)"
    arch = arch_path(path)
    atomic_write(arch, lambda fh: fh.write(to_json(net.spec).encode("utf-8")))
    return Exported((path, arch), f"{kind}, {_trained_words(net)}; the architecture in {arch.name} "
                                  f"(vgg-studio --arch {arch.name})")
