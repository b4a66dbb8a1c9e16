"""Architecture description: plain immutable data, validation, presets and JSON.

This is the single source of truth for an architecture. It imports neither torch nor Qt so that the
GUI, the CLI and the tests can all reason about an architecture without building it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .atomic import atomic_write_text

SCHEMA_FORMAT = "vgg-studio.architecture"
SCHEMA_VERSION = 2  # 2 added per-block kernel_size, batch_norm and head; version-1 files migrate on read

# Sane bounds: generous enough for any real VGG variant, tight enough to catch typos (an extra zero).
MAX_BLOCKS = 16
MAX_CONVS = 32
MAX_CHANNELS = 16384
MAX_IN_CHANNELS = 64
MAX_INPUT_SIZE = 4096
MAX_HIDDEN_LAYERS = 8
MAX_WIDTH = 65536
MAX_CLASSES = 100_000
MAX_RATIO = MAX_CHANNELS
KERNEL_SIZES = (1, 3, 5, 7, 9, 11)  # odd, so padding k // 2 keeps the size, as the chapter's 3x3 with padding 1

# The classifier after the blocks: d2l's flatten + FC stack; torchvision's adaptive 7x7 pool before that
# stack (any input size builds); or NiN-style global average pooling + one Linear to the classes.
HEADS = ("fc", "adaptive", "gap")
HEAD_LABELS = {"fc": "fc (d2l)", "adaptive": "adaptive (torchvision)", "gap": "gap (NiN)"}
HEAD_HELP = {
    "fc": "flatten + fully connected layers, the first sized from the last feature map",
    "adaptive": "7x7 adaptive average pool, then the fully connected layers (any input size builds)",
    "gap": "global average pool + one linear layer to the classes",
}
ADAPTIVE_POOL_SIZE = 7  # torchvision's AdaptiveAvgPool2d((7, 7))


class SpecError(ValueError):
    """A file or value that cannot be turned into an architecture; the message is for the user."""


@dataclass(frozen=True)
class Block:
    """`num_convs` k x k convolutions (padding k // 2) with `out_channels` channels, then a 2x2/2 max-pool."""

    num_convs: int
    out_channels: int
    kernel_size: int = 3


@dataclass(frozen=True)
class ArchSpec:
    """A whole VGG-style network, as d2l's `vgg(conv_arch)` plus the knobs it hard-codes."""

    blocks: tuple[Block, ...]
    name: str = "custom"
    input_size: int = 224
    in_channels: int = 1
    ratio: int = 1
    hidden: tuple[int, ...] = (4096, 4096)
    dropout: float = 0.5
    num_classes: int = 10
    batch_norm: bool = False  # Conv -> BatchNorm2d -> ReLU in every block, torchvision's vgg*_bn order
    head: str = "fc"  # one of HEADS

    def __post_init__(self) -> None:
        # Accept d2l-style (num_convs, out_channels[, kernel_size]) pairs and lists for convenience; store tuples so the
        # spec stays hashable (the summary cache keys on it).
        blocks = tuple(b if isinstance(b, Block) else Block(*b) for b in self.blocks)
        object.__setattr__(self, "blocks", blocks)
        object.__setattr__(self, "hidden", tuple(self.hidden))

    @property
    def conv_arch(self) -> tuple[tuple[int, int], ...]:
        """The d2l `conv_arch` this spec describes, before the ratio."""
        return tuple((b.num_convs, b.out_channels) for b in self.blocks)

    @property
    def kernel_sizes(self) -> tuple[int, ...]:
        return tuple(b.kernel_size for b in self.blocks)

    @property
    def classifier_widths(self) -> tuple[int, ...]:
        """Hidden widths the head really has: the `gap` head goes straight to the classes."""
        return () if self.head == "gap" else self.hidden

    def effective_channels(self, index: int) -> int:
        """Channels block `index` really has: d2l's `small_conv_arch` divides by `ratio`."""
        return self.blocks[index].out_channels // self.ratio

    def feature_sizes(self) -> list[int]:
        """Spatial size after each block (pools floor, like nn.MaxPool2d)."""
        sizes, size = [], self.input_size
        for _ in self.blocks:
            size //= 2
            sizes.append(size)
        return sizes

    @property
    def num_convs(self) -> int:
        return sum(b.num_convs for b in self.blocks)

    @property
    def depth(self) -> int:
        """Weight layers, as the paper counts them (VGG-11 has 8 convs + 3 linears)."""
        return self.num_convs + len(self.classifier_widths) + 1

    def replace(self, **changes: Any) -> ArchSpec:
        return dataclasses.replace(self, **changes)

    # --- blocks as a list, for editors -------------------------------------------------------------
    def with_block(self, index: int, block: Block) -> ArchSpec:
        blocks = list(self.blocks)
        blocks[index] = block
        return self.replace(blocks=tuple(blocks))

    def inserting(self, index: int, block: Block) -> ArchSpec:
        blocks = list(self.blocks)
        blocks.insert(index, block)
        return self.replace(blocks=tuple(blocks))

    def removing(self, index: int) -> ArchSpec:
        blocks = list(self.blocks)
        del blocks[index]
        return self.replace(blocks=tuple(blocks))

    def moving(self, source: int, dest: int) -> ArchSpec:
        blocks = list(self.blocks)
        blocks.insert(dest, blocks.pop(source))
        return self.replace(blocks=tuple(blocks))


# ------------------------------------------------------------------------------------------------
# Validation
# ------------------------------------------------------------------------------------------------

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a spec, located precisely enough for an editor to highlight it."""

    severity: Severity
    field: str  # ArchSpec field name, or "num_convs" / "out_channels" for a block's cell
    message: str
    block: int | None = None  # 0-based block index, None for network-wide fields

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def __str__(self) -> str:
        return f"{self.severity}: {self.message}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(problems: list[Problem], value: Any, field_name: str, label: str, lo: int, hi: int,
               block: int | None = None) -> bool:
    if not _is_int(value):
        problems.append(Problem("error", field_name, f"{label} must be a whole number, not {value!r}.", block))
        return False
    if not lo <= value <= hi:
        problems.append(Problem("error", field_name, f"{label} must be between {lo:,} and {hi:,} (got {value:,}).",
                                block))
        return False
    return True


def max_blocks_for(input_size: int) -> int:
    """How many 2x2 pools an input of this size survives before the map would be 0x0."""
    return int(math.floor(math.log2(input_size))) if input_size >= 1 else 0


def validate(spec: ArchSpec) -> list[Problem]:
    """Every problem with `spec`, errors and warnings, each with its location, in plain words."""
    problems: list[Problem] = []
    size_ok = _check_int(problems, spec.input_size, "input_size", "Input size", 1, MAX_INPUT_SIZE)
    _check_int(problems, spec.in_channels, "in_channels", "Input channels", 1, MAX_IN_CHANNELS)
    ratio_ok = _check_int(problems, spec.ratio, "ratio", "Channel ratio", 1, MAX_RATIO)
    _check_int(problems, spec.num_classes, "num_classes", "Number of classes", 1, MAX_CLASSES)

    if not isinstance(spec.batch_norm, bool):
        problems.append(Problem("error", "batch_norm", f"BatchNorm must be on or off (true or false), "
                                                       f"not {spec.batch_norm!r}."))
    if spec.head not in HEADS:
        problems.append(Problem("error", "head", f"The head must be one of {', '.join(HEADS)}, not {spec.head!r}."))

    if not isinstance(spec.dropout, (int, float)) or isinstance(spec.dropout, bool) or not 0 <= spec.dropout < 1:
        problems.append(Problem("error", "dropout", f"Dropout must be a probability in [0, 1), not {spec.dropout!r}."))

    if len(spec.hidden) > MAX_HIDDEN_LAYERS:
        problems.append(Problem("error", "hidden",
                                f"At most {MAX_HIDDEN_LAYERS} hidden classifier layers (got {len(spec.hidden)})."))
    for i, width in enumerate(spec.hidden):
        _check_int(problems, width, "hidden", f"Hidden layer {i + 1}'s width", 1, MAX_WIDTH)

    if not spec.blocks:
        problems.append(Problem("error", "blocks", "The network needs at least one VGG block."))
    elif len(spec.blocks) > MAX_BLOCKS:
        problems.append(Problem("error", "blocks", f"At most {MAX_BLOCKS} blocks (got {len(spec.blocks)})."))

    for i, block in enumerate(spec.blocks):
        _check_int(problems, block.num_convs, "num_convs", f"Block {i + 1}: the number of convolutions",
                   1, MAX_CONVS, i)
        if _check_int(problems, block.kernel_size, "kernel_size", f"Block {i + 1}: the kernel size",
                      1, KERNEL_SIZES[-1], i) and block.kernel_size % 2 == 0:
            k = block.kernel_size
            problems.append(Problem(
                "error", "kernel_size", f"Block {i + 1}: the kernel size must be odd (1, 3, 5, ...) so that "
                f"padding {k // 2} keeps the size; {k} would shift the map. Use {k - 1} or {k + 1}.", i))
        if _check_int(problems, block.out_channels, "out_channels", f"Block {i + 1}: output channels",
                      1, MAX_CHANNELS, i) and ratio_ok and block.out_channels // spec.ratio < 1:
            problems.append(Problem(
                "error", "out_channels",
                f"Block {i + 1}: {block.out_channels} channels divided by ratio {spec.ratio} leaves "
                f"{block.out_channels // spec.ratio} channels; use a ratio of at most {block.out_channels} "
                f"or widen the block.", i))

    if size_ok and spec.blocks and len(spec.blocks) <= MAX_BLOCKS:
        problems.extend(_spatial_problems(spec))
    return problems


def _spatial_problems(spec: ArchSpec) -> list[Problem]:
    problems: list[Problem] = []
    size = spec.input_size
    for i in range(len(spec.blocks)):
        if size < 2:
            fit = max_blocks_for(spec.input_size)
            problems.append(Problem(
                "error", "blocks",
                f"Block {i + 1}: its pool would make the {size}x{size} feature map 0x0. "
                f"A {spec.input_size}x{spec.input_size} input allows at most {fit} block{'s' if fit != 1 else ''}; "
                f"remove blocks or use an input of at least {2 ** len(spec.blocks)}.", i))
            break
        if size % 2:
            problems.append(Problem(
                "warning", "blocks",
                f"Block {i + 1}: the pool floors {size}x{size} to {size // 2}x{size // 2} "
                f"(the last row and column are dropped).", i))
        size //= 2
    return problems


def errors(spec: ArchSpec) -> list[Problem]:
    return [p for p in validate(spec) if p.is_error]


def check(spec: ArchSpec) -> ArchSpec:
    """Return `spec` unchanged or raise SpecError listing every error, for callers that must build it."""
    errs = errors(spec)
    if errs:
        raise SpecError("\n".join(p.message for p in errs))
    return spec


# ------------------------------------------------------------------------------------------------
# Presets (Simonyan & Zisserman, Table 1; d2l uses 1 input channel and 10 classes)
# ------------------------------------------------------------------------------------------------

VGG_CONFIGS: dict[str, tuple[tuple[int, int], ...]] = {
    "vgg11": ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)),  # configuration A, d2l's conv_arch
    "vgg13": ((2, 64), (2, 128), (2, 256), (2, 512), (2, 512)),  # B
    "vgg16": ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512)),  # D
    "vgg19": ((2, 64), (2, 128), (4, 256), (4, 512), (4, 512)),  # E
}

_PRESETS: dict[str, ArchSpec] = {
    **{key: ArchSpec(blocks=arch, name=f"VGG-{key[3:]}") for key, arch in VGG_CONFIGS.items()},
    # d2l's training net: small_conv_arch = conv_arch with every width // 4.
    "d2l-small": ArchSpec(blocks=VGG_CONFIGS["vgg11"], name="d2l-small", ratio=4),
    # Trains in seconds on a CPU at Fashion-MNIST's native 28x28: 28 -> 14 -> 7.
    "tiny": ArchSpec(blocks=((1, 32), (2, 64)), name="tiny", input_size=28, hidden=(256,), dropout=0.3),
    # What every later VGG uses: BatchNorm after each conv (torchvision's vgg11_bn / vgg16_bn).
    "vgg11-bn": ArchSpec(blocks=VGG_CONFIGS["vgg11"], name="VGG-11-BN", batch_norm=True),
    "vgg16-bn": ArchSpec(blocks=VGG_CONFIGS["vgg16"], name="VGG-16-BN", batch_norm=True),
    # The chapter's "why 3x3?": VGG-11 with each pair of 3x3 convs replaced by one 5x5, which sees the same
    # 5x5 window (same receptive field) with one ReLU fewer and 25 instead of 18 weights per channel pair.
    "vgg11-5x5": ArchSpec(blocks=((1, 64), (1, 128), (1, 256, 5), (1, 512, 5), (1, 512, 5)), name="VGG-11-5x5"),
}

PRESET_NAMES: tuple[str, ...] = tuple(_PRESETS)


def preset(name: str) -> ArchSpec:
    try:
        return _PRESETS[name.lower()]
    except KeyError:
        raise SpecError(f"Unknown preset {name!r}; choose one of: {', '.join(PRESET_NAMES)}.") from None


# ------------------------------------------------------------------------------------------------
# JSON
# ------------------------------------------------------------------------------------------------

_FIELDS = ("name", "blocks", "input_size", "in_channels", "ratio", "hidden", "dropout", "num_classes")
_FIELDS_V2 = (*_FIELDS, "batch_norm", "head")  # version 1 files have none of these (migrated on read)
# What reading a file accepts at most, so a hostile or mistaken file is a message, not a hang: real architecture
# files are a few hundred bytes, names a few words, lists a few entries.
MAX_FILE_BYTES = 1_000_000
MAX_NAME_LENGTH = 200
MAX_LIST_LENGTH = 1000
MAX_DIGITS = 18


def to_dict(spec: ArchSpec) -> dict[str, Any]:
    return {
        "format": SCHEMA_FORMAT,
        "version": SCHEMA_VERSION,
        "name": spec.name,
        "blocks": [{"num_convs": b.num_convs, "out_channels": b.out_channels, "kernel_size": b.kernel_size}
                   for b in spec.blocks],
        "input_size": spec.input_size,
        "in_channels": spec.in_channels,
        "ratio": spec.ratio,
        "hidden": list(spec.hidden),
        "dropout": spec.dropout,
        "num_classes": spec.num_classes,
        "batch_norm": spec.batch_norm,
        "head": spec.head,
    }


def to_json(spec: ArchSpec) -> str:
    return json.dumps(to_dict(spec), indent=2) + "\n"


def _want_int(value: Any, where: str) -> int:
    if not _is_int(value):
        raise SpecError(f"{where} must be a whole number, not {_shown(value)}.")
    if abs(value) >= 10**MAX_DIGITS:
        raise SpecError(f"{where} is a {len(str(abs(value))):,}-digit number; use a size such as 64.")
    return value


def _shown(value: Any, limit: int = 60, as_python: bool = False) -> str:
    """A value as the file writes it (or as Python does, for names), shortened: never a megabyte of it."""
    try:
        text = repr(value) if as_python else json.dumps(value)
    except (RecursionError, ValueError):
        text = f"a {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _want_list(value: Any, where: str, what: str) -> list:
    if not isinstance(value, list):
        raise SpecError(f"{where} must be a list of {what}, not {_shown(value)}.")
    if len(value) > MAX_LIST_LENGTH:
        raise SpecError(f"{where} has {len(value):,} entries; an architecture has far fewer {what}.")
    return value


def _want_name(value: Any) -> str:
    if not isinstance(value, str):
        raise SpecError(f"'name' must be a string, not {_shown(value)}.")
    if len(value) > MAX_NAME_LENGTH:
        raise SpecError(f"'name' is {len(value):,} characters long; use a name of at most {MAX_NAME_LENGTH}.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = value[exc.start]
        raise SpecError(f"'name' contains an invalid character (a lone surrogate, U+{ord(bad):04X}); "
                        f"retype the name.") from None
    return value


def _parse_block(raw: Any, i: int, version: int = SCHEMA_VERSION) -> Block:
    where = f"blocks[{i}]"
    keys = ("num_convs", "out_channels", "kernel_size") if version >= 2 else ("num_convs", "out_channels")
    if isinstance(raw, list):
        if not 2 <= len(raw) <= len(keys):
            shape = "[num_convs, out_channels] pair" + (" or [num_convs, out_channels, kernel_size]"
                                                        if version >= 2 else "")
            raise SpecError(f"{where} must be a {shape}, not {_shown(raw)}.")
        return Block(*(_want_int(v, f"{where}[{j}] ({keys[j]})") for j, v in enumerate(raw)))
    if isinstance(raw, dict):
        unknown = set(raw) - set(keys)
        if unknown:
            key = min(unknown)
            later = " (set \"version\": 2 to use it)" if key == "kernel_size" else ""
            raise SpecError(f"{where} has unknown key {_shown(key, as_python=True)}{later}; expected "
                            f"{', '.join(keys)}.")
        missing = {"num_convs", "out_channels"} - set(raw)
        if missing:
            raise SpecError(f"{where} is missing {sorted(missing)[0]!r}.")
        return Block(*(_want_int(raw[k], f"{where}.{k}") for k in keys if k in raw))
    raise SpecError(f"{where} must be an object with num_convs and out_channels, not {_shown(raw)}.")


def from_dict(data: Any) -> ArchSpec:
    """Build a spec from parsed JSON, rejecting anything ambiguous with one clear SpecError."""
    if not isinstance(data, dict):
        raise SpecError("An architecture file must hold a JSON object at the top level.")
    fmt = data.get("format", SCHEMA_FORMAT)
    if fmt != SCHEMA_FORMAT:
        raise SpecError(f"Not a vgg-studio architecture (format is {_shown(fmt, as_python=True)}, expected "
                        f"{SCHEMA_FORMAT!r}).")
    version = data.get("version", SCHEMA_VERSION)
    if not _is_int(version) or version > SCHEMA_VERSION or version < 1:
        raise SpecError(f"Unsupported architecture file version {_shown(version, as_python=True)}; this "
                        f"vgg-studio reads versions 1 to {SCHEMA_VERSION}.")
    fields = _FIELDS_V2 if version >= 2 else _FIELDS
    unknown = [k for k in data if k not in fields and k not in ("format", "version")]
    if unknown:
        later = " (set \"version\": 2 to use it)" if unknown[0] in _FIELDS_V2 else ""
        raise SpecError(f"Unknown key {_shown(unknown[0], as_python=True)}{later}; expected some of: "
                        f"{', '.join(fields)}.")
    if "blocks" not in data:
        raise SpecError("The architecture has no 'blocks' list.")
    blocks = _want_list(data["blocks"], "'blocks'", "blocks")
    kwargs: dict[str, Any] = {"blocks": tuple(_parse_block(b, i, version) for i, b in enumerate(blocks))}
    if "name" in data:
        kwargs["name"] = _want_name(data["name"])
    for key in ("input_size", "in_channels", "ratio", "num_classes"):
        if key in data:
            kwargs[key] = _want_int(data[key], f"'{key}'")
    if "hidden" in data:
        hidden = _want_list(data["hidden"], "'hidden'", "widths")
        kwargs["hidden"] = tuple(_want_int(w, f"hidden[{i}]") for i, w in enumerate(hidden))
    if "dropout" in data:
        d = data["dropout"]
        if not isinstance(d, (int, float)) or isinstance(d, bool):
            raise SpecError(f"'dropout' must be a number, not {_shown(d)}.")
        try:
            kwargs["dropout"] = float(d)
        except OverflowError:
            raise SpecError("'dropout' must be a probability such as 0.5, not a huge number.") from None
    if "batch_norm" in data:
        if not isinstance(data["batch_norm"], bool):
            raise SpecError(f"'batch_norm' must be true or false, not {_shown(data['batch_norm'])}.")
        kwargs["batch_norm"] = data["batch_norm"]
    if "head" in data:
        if not isinstance(data["head"], str) or data["head"] not in HEADS:
            raise SpecError(f"'head' must be one of {', '.join(HEADS)}, not {_shown(data['head'])}.")
        kwargs["head"] = data["head"]
    return ArchSpec(**kwargs)


def from_json(text: str, source: str = "the architecture") -> ArchSpec:
    """Parse and check an architecture document; every problem is one SpecError naming `source`."""
    if len(text) > MAX_FILE_BYTES:
        raise SpecError(f"{source} is {len(text):,} characters long, far more than an architecture needs; "
                        f"check that it is the right file.")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        hint = " (the file looks truncated)" if exc.pos >= len(text.rstrip()) else ""
        where = f"line {exc.lineno}, column {exc.colno}"  # json's own "... starting at" wants no second "at"
        what = f"{exc.msg} {where}" if exc.msg.endswith(" at") else f"{exc.msg} at {where}"
        raise SpecError(f"{source} is not valid JSON{hint}: {what}.") from None
    except RecursionError:
        raise SpecError(f"{source} nests lists or objects too deeply to be an architecture; check that it is "
                        f"the right file.") from None
    except ValueError:  # Python refuses integers of more than 4,300 digits
        raise SpecError(f"{source} holds a number with thousands of digits; no architecture setting is that "
                        f"large, so check the file.") from None
    try:
        return from_dict(data)
    except SpecError as exc:
        raise SpecError(f"{source}: {exc}") from None


def load(path: str | os.PathLike[str]) -> ArchSpec:
    """Read an architecture file; a missing, unreadable, oversized or malformed file is one SpecError."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise SpecError(f"No such architecture file: {path}") from None
    except IsADirectoryError:
        raise SpecError(f"{path} is a folder, not an architecture file.") from None
    except (OSError, ValueError) as exc:  # ValueError: a path with a NUL character
        raise SpecError(f"Cannot read {path}: {getattr(exc, 'strerror', None) or exc}.") from None
    if len(raw) > MAX_FILE_BYTES:
        raise SpecError(f"{path} is larger than {MAX_FILE_BYTES // 1_000_000} MB, far more than an architecture "
                        f"file needs; check that it is the right file.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path} is not UTF-8 text (byte {exc.start:,} cannot be read); check that it is an "
                        f"architecture file.") from None
    return from_json(text, source=str(path))


def save(spec: ArchSpec, path: str | os.PathLike[str]) -> None:
    atomic_write_text(path, to_json(spec))
