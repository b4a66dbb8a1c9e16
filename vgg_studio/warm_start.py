"""Warm start after an edit: begin a new architecture from a finished run's weights wherever they still fit.

Layers are matched by position, i.e. by their readable name ("block2.conv1", "fc2"; see
`model.named_layers`), and a layer is reused only when its type and every tensor's shape agree, so a
widened block, a changed kernel or a resized first Linear start fresh while everything else carries
over. BatchNorm layers bring their running statistics along (they are tensors of the layer). The result
says exactly which layers were reused and which are new, for the log and the run record. No Qt here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .model import build_model, named_layers
from .runs import RunError
from .spec import ArchSpec, SpecError
from .spec import load as load_spec


@dataclass(frozen=True)
class WarmStart:
    """What a warm start copied: layer names, in forward order."""

    source: str  # the run folder the weights came from
    reused: tuple[str, ...]  # every tensor copied from the run
    new: tuple[str, ...]  # initialised as usual (not in the run, or a different type or shape)
    dropped: tuple[str, ...] = ()  # layers of the run that the new architecture has no place for
    why_new: dict[str, str] = field(default_factory=dict, compare=False)  # layer -> why it could not be reused

    def to_dict(self) -> dict:
        """For the run record (run.json): the lists, and why each new layer could not be reused."""
        return {"from": self.source, "reused": list(self.reused), "new": list(self.new),
                "dropped": list(self.dropped), "why_new": dict(self.why_new)}


def _stateful_layers(net: nn.Sequential, spec: ArchSpec) -> dict[str, nn.Module]:
    """Readable name -> module, for the layers that hold tensors (convs, BatchNorms, Linears)."""
    return {name: module for name, _, module in named_layers(net, spec)
            if module.state_dict()}


def _shapes(state: dict[str, torch.Tensor]) -> str:
    weight = state.get("weight")
    return "x".join(map(str, weight.shape)) if weight is not None else "?"


def transfer(net: nn.Sequential, spec: ArchSpec, source_spec: ArchSpec, source_state: dict[str, torch.Tensor],
             source: str = "") -> WarmStart:
    """Copy into `net` (built from `spec`) every layer of the source model that fits; report what happened.

    `source_state` is the state_dict of `build_model(source_spec)`.
    """
    with torch.device("meta"):
        source_net = build_model(source_spec)
    expected = {k: v.shape for k, v in source_net.state_dict().items()}
    if expected != {k: v.shape for k, v in source_state.items()}:
        raise SpecError("its layers or their shapes differ from what the architecture builds")
    prefix = {id(m): name for name, m in source_net.named_modules()}
    old: dict[str, tuple[type, dict[str, torch.Tensor]]] = {}
    for name, module in _stateful_layers(source_net, source_spec).items():
        key = prefix[id(module)] + "."
        tensors = {k[len(key):]: v for k, v in source_state.items() if k.startswith(key)}
        old[name] = (type(module), tensors)

    reused, new, why = [], [], {}
    for name, module in _stateful_layers(net, spec).items():
        mine = module.state_dict()
        if name not in old:
            new.append(name)
            why[name] = "not in the run"
            continue
        kind, theirs = old[name]
        if kind is not type(module):
            new.append(name)
            why[name] = f"{kind.__name__} in the run"
        elif set(theirs) != set(mine) or any(theirs[k].shape != v.shape for k, v in mine.items()):
            new.append(name)
            why[name] = f"{_shapes(theirs)} in the run, {_shapes(mine)} now"
        else:
            with torch.no_grad():
                for k, v in mine.items():
                    v.copy_(theirs[k])
            reused.append(name)
    dropped = tuple(name for name in old if name not in _stateful_layers(net, spec))
    return WarmStart(source=source, reused=tuple(reused), new=tuple(new), dropped=dropped, why_new=why)


def weights_file(run_dir: str | os.PathLike) -> Path:
    """The file a warm start reads in a run folder, without reading it (cheap enough for a file chooser).

    final.pt is written when a run ends (finished or stopped); a run whose process died has only its
    last checkpoint, which serves as well. Raises RunError when the folder has neither.
    """
    folder = Path(run_dir).expanduser()
    if not (folder / "run.json").is_file():
        raise RunError(f"{folder} is not a vgg-studio run (no run.json), so there are no weights to start from.")
    for name in ("final.pt", "checkpoint.pt"):
        if (folder / name).is_file():
            return folder / name
    raise RunError(f"{folder} has no weights yet (no final.pt or checkpoint.pt): it never finished an epoch.")


def load_run_weights(run_dir: str | os.PathLike) -> tuple[ArchSpec, dict[str, torch.Tensor]]:
    """A run's architecture (as trained: the dataset's channels and classes) and its final weights."""
    path = weights_file(run_dir)
    try:
        spec = load_spec(path.parent / "arch.json")
    except SpecError as exc:
        raise RunError(f"Cannot start from {path.parent}: {exc}") from None
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch.load raises many unrelated types for a damaged file
        raise RunError(f"Cannot read {path}: {exc}") from None
    state = data["model"] if path.name == "checkpoint.pt" and isinstance(data, dict) and "model" in data else data
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise RunError(f"{path} does not hold a model's weights.")
    return spec, state


def warm_start(net: nn.Sequential, spec: ArchSpec, run_dir: str | os.PathLike) -> WarmStart:
    """Start `net` from the run in `run_dir` wherever layers fit (see `transfer`); raises RunError."""
    source_spec, state = load_run_weights(run_dir)
    try:
        return transfer(net, spec, source_spec, state, source=str(Path(run_dir).expanduser()))
    except SpecError as exc:  # weights that do not belong to their arch.json
        raise RunError(f"The weights in {run_dir} do not match its arch.json: {exc}.") from None
