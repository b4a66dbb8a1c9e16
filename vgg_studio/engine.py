"""The training loop: d2l's `train_ch6` recipe, fast, cancellable, reporting events and writing a run folder.

Speed comes from the data layer (the whole uint8 set lives on the device; batches are indexed, resized
and normalised as whole tensors) and from never synchronising with the device per batch: the running
loss and accuracy are summed on the device and read back only a few times per epoch. On CUDA the step
runs under bf16 autocast with channels_last tensors and cudnn.benchmark. No Qt here: the GUI runs
`train` in a worker thread and forwards the events.
"""

from __future__ import annotations

import contextlib
import math
from functools import partial
import threading
import time
import traceback
from pathlib import Path
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import distributed
from .batch_sources import BatchSource
from .batching import prepare_batch
from .data import Dataset, DataError
from .distributed import World
from .events import BatchProgress, Compiling, EpochEnd, Event, Failed, Finished, Notice, RunStarted, StepProgress
from .hardware import Peak, achieved_flops, peak, share
from .image_folder import DecodeCancelled
from .model import build_initialized
from .recipes import augment, decay_groups
from .runs import RunError, RunFolder, RunResults, damaged_checkpoint
from .spec import ArchSpec, SpecError, check, to_dict
from .spec import load as load_spec
from .steps import Steps
from .summary import summarize
from .train_config import ConfigError, TrainConfig, resume_changes, validate_config
from .training_data import open_training_data, resolve_name
from .warm_start import WarmStart, warm_start

STEP_PROGRESS_S = 0.25  # StepProgress between points at most this often
_ALONE = World()  # one process, no torchrun
NUM_EXAMPLES = 64  # test images kept in results.npz for the results view


class _Diverged(Exception):
    def __init__(self, epoch: int, batch: int, value: float) -> None:
        super().__init__(f"non-finite loss {value} in epoch {epoch}, batch {batch}")
        self.epoch, self.batch, self.value = epoch, batch, value


class _Cancelled(Exception):
    """Raised from evaluation when a stop is requested there (training checks the flag inline)."""


def pick_device(name: str) -> torch.device:
    """`auto`: CUDA, then Apple MPS, then the CPU; an explicit choice that is not there is an error."""
    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if name == "auto":
        name = "cuda" if cuda else "mps" if mps else "cpu"
    if name == "cuda":
        if not cuda:
            raise ConfigError("Device cuda was chosen, but this PyTorch sees no CUDA GPU; choose the cpu or "
                              "auto device instead.")
        return torch.device("cuda", torch.cuda.current_device())
    if name == "mps":
        if not mps:
            raise ConfigError("Device mps was chosen, but Apple's MPS backend is not available here; choose the "
                              "cpu or auto device instead.")
        return torch.device("mps")
    return torch.device("cpu")


def available_devices() -> list[tuple[str, str]]:
    """(TrainConfig.device value, label) for `auto` plus each device this torch sees, for pickers."""
    devices = [("cpu", "CPU")]
    if torch.cuda.is_available():
        devices.append(("cuda", f"CUDA: {torch.cuda.get_device_name(0)}"))
    if torch.backends.mps.is_available():
        devices.append(("mps", "Apple MPS"))
    return [("auto", f"Auto ({pick_device('auto').type})"), *devices]


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX); elsewhere bf16 would be emulated and slow."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # an older or newer torch without these probes: stay in float32
        return False


def uses_bf16(config: TrainConfig, device: torch.device) -> bool:
    """Whether training runs under bf16 autocast: asked for, and on CUDA or a CPU with native bf16."""
    return config.amp and (device.type == "cuda" or (device.type == "cpu" and cpu_has_bf16()))


def uses_channels_last(config: TrainConfig, device: torch.device) -> bool:
    """channels_last is used where it helps: CUDA (cuDNN) and the CPU (oneDNN)."""
    return config.channels_last and device.type in ("cuda", "cpu")


def lr_factor(schedule: str, step: int, total: int) -> float:
    """Multiplier of the base learning rate after `step` of `total` optimizer steps (applied per step).

    onecycle follows torch's OneCycleLR shape (30% cosine warm-up from lr/25, cosine decay to lr/25e4),
    without momentum cycling, written as a plain function so a resumed run may extend its epochs.
    """
    t = min(step / max(total, 1), 1.0)
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * t))
    if schedule == "onecycle":
        warm, start, end = 0.3, 1 / 25, 1 / 25e4
        if t < warm:
            return start + (1 - start) * 0.5 * (1 - math.cos(math.pi * t / warm))
        return end + (1 - end) * 0.5 * (1 + math.cos(math.pi * (t - warm) / (1 - warm)))
    return 1.0


def make_optimizer(params, config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay,
                           nesterov=config.nesterov)


@dataclass
class _Session:
    """What one training session works with, prepared before the run folder is touched."""

    spec: ArchSpec
    config: TrainConfig
    device: torch.device
    data: Dataset  # classes, mean/std and sizes; batches come from the two sources
    train_source: BatchSource
    test_source: BatchSource
    data_notes: tuple[str, ...]  # what was read or skipped, and where the batches live and why
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    generator: torch.Generator
    run: RunFolder
    start_epoch: int
    elapsed_before: float  # seconds spent in earlier sessions of a resumed run
    warm: WarmStart | None = None  # what a warm start (config.init_from) copied
    world: World = _ALONE  # the processes training together (torchrun)
    steps: Steps | None = None  # the (possibly compiled) step functions, made when the epochs start
    peak: Peak | None = None  # the device's matmul peak for the dtype used, for the hardware share
    flops_per_example: float = math.nan  # of training: 3 x the forward FLOPs (hardware.achieved_flops)

    @property
    def amp(self) -> bool:
        return uses_bf16(self.config, self.device)

    @property
    def channels_last(self) -> bool:
        return uses_channels_last(self.config, self.device)

    @property
    def num_batches(self) -> int:
        return math.ceil(len(self.data.train) / self.config.batch_size)

    def batch(self, images_u8: torch.Tensor) -> torch.Tensor:
        d = self.data
        return prepare_batch(images_u8, self.spec.input_size, d.mean, d.std, channels_last=self.channels_last)

    def augmented(self, images_u8: torch.Tensor) -> torch.Tensor:
        """The recipe's random flips and shifts of a training batch (none by default, as in d2l)."""
        cfg = self.config
        if not (cfg.flip or cfg.shift):
            return images_u8
        return augment(images_u8, self.generator, flip=cfg.flip, shift=cfg.shift)

    def autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16) if self.amp else contextlib.nullcontext()

    def forward_loss(self, net, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`net` is the model, or its kept bf16 weights (steps.py)."""
        with self.autocast():
            out = net(x)
            return out, F.cross_entropy(out, y, label_smoothing=self.config.label_smoothing)

    def predict(self, net, x: torch.Tensor) -> torch.Tensor:
        with self.autocast():
            return net(x)

    @property
    def eval_batch_size(self) -> int:
        return 2 * self.config.batch_size

    def make_steps(self, emit: Callable[[Event], None]) -> None:
        """The step functions (compiled if asked) and the peak the hardware share is measured against.

        Kept bf16 weights are left out with several processes: DDP all-reduces the gradients of the model's own
        parameters, which the kept copies would bypass. Each process steps its shard of a batch.
        """
        self.peak = peak(self.device, torch.bfloat16 if self.amp else torch.float32)
        self.flops_per_example = achieved_flops(summarize(self.spec).total_flops, 1.0)
        n = self.world.size
        self.steps = Steps(self.model, self.optimizer, self.forward_loss, self.predict, compile=self.config.compile,
                           kept_bf16=self.amp and self.device.type == "cpu" and not self.world.distributed,
                           batch_size=self.config.batch_size // n, eval_batch_size=self.eval_batch_size // n,
                           eval_model=distributed.unwrap(self.model),
                           on_compiling=lambda step: emit(Compiling(step)),
                           on_fallback=lambda message: emit(Notice(message)))

    def hardware_share(self, examples_per_sec: float) -> float:
        """The share of each device's peak that training at this (all processes') rate uses (see `hardware`), 0..1."""
        if self.peak is None:
            return math.nan
        return share(self.flops_per_example * examples_per_sec / self.world.size, self.peak.flops)


@dataclass
class _Progress:
    """How far `train` got, so the failure handlers know what there is to update."""

    run: RunFolder | None = None  # the run folder, once made or reopened
    started: bool = False  # the folder holds this session's settings and says "running"
    session: _Session | None = None
    world: World = _ALONE  # joined: the process group to leave at the end


class _ReadOnlyRun(RunFolder):
    """The run folder as ranks other than 0 see it: they read it to resume, rank 0 alone writes (and locks) it."""

    @classmethod
    def create(cls, spec: ArchSpec, config: TrainConfig, *, root=None, path=None, **meta) -> _ReadOnlyRun:
        return cls(Path(path or root or "."), dict(meta), [], [])

    def _skip(self, *args, **kwargs) -> None:
        pass

    write_config = update = _write_metrics = save_torch = save_results = log_error = _skip
    lock = unlock = discard = truncate = _skip

    def add_steps(self, rows: list[dict]) -> None:
        self.steps.extend(rows)


@dataclass
class _EpochSteps:
    """What one epoch's training steps measured (all of them, or those before a stop)."""

    seen: int  # examples stepped
    seconds: float
    train_loss: float  # running means over `seen`; NaN when nothing was stepped
    train_acc: float
    cancelled: bool
    points: int  # BatchProgress events emitted: points the user saw on the curves


def train(spec: ArchSpec, config: TrainConfig, on_event: Callable[[Event], None] | None = None,
          cancel: threading.Event | None = None, runs_root=None, run_dir=None, resume=None,
          parent=None, meta=None) -> Finished | Failed:
    """Train `spec` with `config`, emitting events; returns (and emits last) the Finished or Failed event.

    `run_dir` names a new run folder (default: a fresh one under `runs_root`); `resume` continues the run
    in that folder from its last finished epoch up to `config.epochs`, with the run's own architecture.
    `parent` is the run folder a new run is compared with (recorded in its run.json; see lineage.py).
    `meta`: more fields for a new run's run.json (e.g. `sweep`, the group and label of a sweep's variant).
    Expected failures come back as Failed with a message for the user, never as an exception.
    """
    emit = on_event or (lambda event: None)
    cancel = cancel if cancel is not None else threading.Event()
    progress = _Progress()
    world = distributed.world_from_env()
    if not world.is_main:
        emit = lambda event: None  # noqa: E731 - rank 0 alone reports; the others train in silence

    def fail(kind, message: str) -> Failed:
        run = progress.run
        if run is not None and progress.started:
            _best_effort(run.update, status="failed", message=message)
        event = Failed(run_dir=str(run.path) if run is not None else None, kind=kind, message=message)
        emit(event)
        return event

    try:
        session = _prepare(spec, config, runs_root, run_dir, resume, progress, emit, cancel, parent, meta, world)
        return _run_epochs(session, emit, cancel)
    except distributed.dist.DistBackendError as exc:
        return fail("error", f"Another process of this run stopped, so this one cannot go on: "
                             f"{str(exc).splitlines()[0]}")
    except DataError as exc:
        return fail("data", str(exc))
    except DecodeCancelled:
        return fail("stopped", "Stopped on request while reading the image folder; nothing was trained, and the "
                               "next run reads the folder again.")
    except (SpecError, ConfigError, RunError) as exc:
        return fail("spec", str(exc))
    except _Diverged as exc:
        word = "NaN" if math.isnan(exc.value) else "infinite"
        return fail("diverged", f"Training diverged: the loss became {word} in epoch {exc.epoch} "
                                f"(by batch {exc.batch}) at learning rate {config.lr:g}. Try a smaller learning "
                                f"rate, such as {config.lr / 10:g}.")
    except KeyboardInterrupt:  # a hard stop (the CLI's second Ctrl-C): say so on disk, then let it through
        if progress.started and progress.run is not None:
            _best_effort(progress.run.update, status="cancelled",
                         message="Interrupted; the checkpoint holds the last finished epoch.")
        raise
    except OSError as exc:  # writing the run folder failed: full or read-only disk, or the folder was deleted
        if progress.run is not None and not progress.run.path.is_dir():
            progress.started = False  # nothing to update: writing now would rebuild a partial folder
            return fail("disk", f"The run folder {progress.run.path} was deleted while training, so training "
                                f"stopped; start a new run to train again.")
        return fail("disk", _write_failure_message(exc, progress.run))
    except Exception as exc:  # noqa: BLE001 - the last resort: any other error becomes a message and error.log
        if _is_out_of_memory(exc):
            return fail("out_of_memory", _oom_message(spec, config, progress.session))
        run = progress.run
        logged = run is not None and _best_effort(run.log_error, traceback.format_exc())
        where = f" (details in {run.path / 'error.log'})" if logged else ""
        return fail("error", f"Training stopped by an unexpected error: {type(exc).__name__}: {exc}{where}")
    finally:
        if progress.run is not None:
            progress.run.unlock()
        distributed.leave(progress.world)


def _best_effort(write: Callable[..., None], *args, **kwargs) -> bool:
    """A write made while already failing: if it fails too, the first failure is the one to report."""
    try:
        write(*args, **kwargs)
    except OSError:
        return False
    return True


def _write_failure_message(exc: OSError, run: RunFolder | None) -> str:
    where = exc.filename or (run.path if run is not None else "the run folder")
    reason = exc.strerror or str(exc)
    done = run.epochs[-1]["epoch"] if run is not None and run.epochs else 0
    if run is not None and done and (run.path / "checkpoint.pt").is_file():
        then = (f"the checkpoint holds epoch {done}: free some space or make the folder writable, then resume "
                f"the run")
    else:
        then = "no epoch had finished, so there is nothing to resume: free some space and start a new run"
    return f"Cannot write {where} ({reason}), so training stopped; {then}."


def _is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def _oom_message(spec: ArchSpec, config: TrainConfig, session: _Session | None) -> str:
    where = f" on {session.device}" if session is not None else ""
    if session is not None and session.device.type == "cuda":
        torch.cuda.empty_cache()
    return (f"Out of memory{where} with batch size {config.batch_size} at {spec.input_size}x{spec.input_size} "
            f"input. Try a smaller batch size (e.g. {max(1, config.batch_size // 2)}), a smaller input size, "
            f"or a larger channel ratio (e.g. {spec.ratio * 2}).")


def _prepare(spec: ArchSpec, config: TrainConfig, runs_root, run_dir, resume, progress: _Progress,
             emit: Callable[[Event], None], cancel: threading.Event, parent=None, meta=None,
             world: World = _ALONE) -> _Session:
    """Check the settings, load the data, build the model and optimizer, then make or reopen the run folder.

    In a run of several processes every rank prepares the same way; only rank 0 writes the run folder.

    A resume is checked (the folder's lock, the settings it may change, the checkpoint) before anything is
    written, so a refused resume leaves the run folder byte-identical.
    """
    problems = validate_config(config)
    if problems:
        raise ConfigError(" ".join(problems))
    distributed.check_batch_size(config.batch_size, world.size)
    world, device = distributed.join(world, pick_device(config.device))
    progress.world = world
    folder = RunFolder if world.is_main else _ReadOnlyRun
    dataset = resolve_name(config)
    config = config.replace(dataset=dataset)  # saved resolved, so a resume trains on the same data
    ckpt: dict | None = None
    if resume is not None:
        progress.run = folder.reopen(resume)
        progress.run.lock()
        ckpt = _check_resume(progress.run, config)
    opened = open_training_data(config, spec.in_channels, spec.input_size, device, emit, cancel)
    data = opened.dataset
    spec = check(spec.replace(in_channels=data.channels, num_classes=len(data.classes)))

    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    model = build_initialized(spec)
    warm = None
    if config.init_from is not None and resume is None:  # a resume loads its own checkpoint instead
        config = config.replace(init_from=str(Path(config.init_from).expanduser().resolve()))
        warm = warm_start(model, spec, config.init_from)
    model = model.to(device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = config.cudnn_benchmark
    if uses_channels_last(config, device):
        model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(decay_groups(model, config.weight_decay, config.bias_decay), config)
    total_steps = config.epochs * math.ceil(len(data.train) / config.batch_size)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(config.schedule, step, total_steps))
    params = sum(p.numel() for p in model.parameters())

    start_epoch, elapsed_before = 0, 0.0
    if progress.run is not None and ckpt is not None:
        run = progress.run
        saved = load_spec(run.path / "arch.json")
        if to_dict(saved) != to_dict(spec):
            raise SpecError(f"{run.path} was trained with a different architecture ({saved.name}); resume it "
                            f"with its own architecture (arch.json in the run folder).")
        _restore(ckpt, run, model, optimizer, scheduler, generator, device)
        start_epoch = int(ckpt["epoch"])
        run.truncate(start_epoch)
        elapsed_before = run.epochs[-1]["elapsed_s"] if run.epochs else 0.0
        run.write_config(config)
        run.update(status="running", message="", device=str(device), epochs=config.epochs)
    else:
        run = folder.create(spec, config, root=runs_root, path=run_dir, device=str(device), dataset=dataset,
                               params=params, epochs=config.epochs,
                               parent=str(Path(parent).expanduser().resolve()) if parent else None,
                               # what predicting and exporting need to prepare an image as in training
                               classes=list(data.classes), mean=list(data.mean), std=list(data.std),
                               **({"warm_start": warm.to_dict()} if warm is not None else {}), **(meta or {}))
        progress.run = run
    progress.started = True
    # Which epochs ran where and in which precision: config.json holds the latest of these settings.
    run.update(sessions=[*run.meta.get("sessions", []), {"from_epoch": start_epoch + 1, "device": str(device),
                                                           "bf16": uses_bf16(config, device)}],
               world_size=world.size, backend=world.backend, devices=distributed.all_devices(device, world))
    if world.rank > 0:  # the same weights everywhere (DDP copies rank 0's), but each process its own dropout masks
        torch.manual_seed(config.seed + 7919 * world.rank)
    progress.session = _Session(spec, config, device, data, opened.train, opened.test, opened.notes,
                                distributed.wrap(model, world, device), optimizer, scheduler, generator, run,
                                start_epoch, elapsed_before, warm, world)
    return progress.session


def _check_resume(run: RunFolder, config: TrainConfig) -> dict:
    """The checkpoint to resume from, after checking that `config` only changes what a resume may change."""
    changes = resume_changes(run.read_config(), config)
    if changes:
        raise ConfigError(f"A resume continues a run with the settings it was trained with, so it cannot change "
                          f"{', '.join(changes)}; leave those out to continue the run in {run.path}, or start a "
                          f"new run with its architecture ({run.path / 'arch.json'}) to train with them.")
    ckpt = run.load_checkpoint()
    start_epoch = int(ckpt["epoch"])
    if config.epochs <= start_epoch:
        raise ConfigError(f"The run in {run.path} already has {start_epoch} epochs; ask for more than "
                          f"{start_epoch} epochs to continue it.")
    return ckpt


def _restore(ckpt: dict, run: RunFolder, model: nn.Module, optimizer: torch.optim.Optimizer,
             scheduler: torch.optim.lr_scheduler.LambdaLR, generator: torch.Generator, device: torch.device) -> None:
    """Weights, optimizer, schedule and random state from a checkpoint; RunError when they do not fit."""
    try:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        generator.set_state(ckpt["generator"])
        torch.set_rng_state(ckpt["rng_cpu"])
        if device.type == "cuda" and "rng_cuda" in ckpt:
            torch.cuda.set_rng_state(ckpt["rng_cuda"], device)
    except (RuntimeError, KeyError, ValueError, TypeError, AttributeError):
        raise RunError(damaged_checkpoint(run.path / "checkpoint.pt", "its weights or optimizer state do not "
                                          "fit the run's architecture and settings")) from None


def _run_epochs(session: _Session, emit: Callable[[Event], None], cancel: threading.Event) -> Finished:
    """Epochs of training steps and a test pass each, the run folder kept current; ends with Finished."""
    cfg, data, run = session.config, session.data, session.run
    session.make_steps(emit)
    assert session.peak is not None and session.steps is not None
    run.update(hardware={"device": session.peak.device, "dtype": session.peak.dtype,
                         "peak_flops": session.peak.flops, "flops_per_example": session.flops_per_example},
               compile=session.steps.status)
    emit(RunStarted(run_dir=str(run.path), device=str(session.device), dataset=data.name,
                    num_train=len(data.train), num_test=len(data.test), batches_per_epoch=session.num_batches,
                    epochs=cfg.epochs, start_epoch=session.start_epoch,
                    params=sum(p.numel() for p in session.model.parameters()), world_size=session.world.size,
                    classes=tuple(data.classes),
                    data_notes=session.data_notes, peak_flops=session.peak.flops, peak_label=session.peak.label,
                    **({"init_from": session.warm.source, "reused_layers": session.warm.reused,
                        "new_layers": session.warm.new} if session.warm is not None else {})))
    t_run = time.perf_counter()
    trained, train_time, eval_time = 0, 0.0, 0.0  # this session: examples stepped, seconds stepping / testing
    last = run.epochs[-1] if run.epochs else {}
    train_loss, train_acc = last.get("train_loss", math.nan), last.get("train_acc", math.nan)
    test_acc = last.get("test_acc", math.nan)
    epochs_done, cancelled, shown = session.start_epoch, False, 0

    for epoch in range(session.start_epoch + 1, cfg.epochs + 1):
        steps = _train_epoch(session, epoch, emit, cancel, eval_time)
        trained, train_time, shown = trained + steps.seen, train_time + steps.seconds, shown + steps.points
        if steps.seen:
            train_loss, train_acc = steps.train_loss, steps.train_acc
        if steps.cancelled:
            cancelled = True
            break
        t1, compiled_before = time.perf_counter(), session.steps.compile_seconds
        try:
            test_acc, results = evaluate(session, cancel)
        except _Cancelled:
            cancelled = True
            break
        eval_time = time.perf_counter() - t1 - (session.steps.compile_seconds - compiled_before)
        elapsed = session.elapsed_before + time.perf_counter() - t_run
        lr = session.optimizer.param_groups[0]["lr"]
        rate = steps.seen / steps.seconds
        hw_share = session.hardware_share(rate)
        run.add_epoch({"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc, "test_acc": test_acc,
                       "examples_per_sec": rate, "elapsed_s": elapsed, "lr": lr,
                       "test_examples_per_sec": len(data.test) / eval_time, "hardware_share": hw_share})
        run.update(compile=session.steps.status, compile_s=session.steps.compile_seconds)
        run.save_results(results)
        run.save_torch("checkpoint.pt", _checkpoint(session, epoch))
        epochs_done = epoch
        emit(EpochEnd(epoch=epoch, train_loss=train_loss, train_acc=train_acc, test_acc=test_acc,
                      examples_per_sec=rate, elapsed_s=elapsed,
                      eta_s=(cfg.epochs - epoch) * (steps.seconds + eval_time), lr=lr, hardware_share=hw_share))

    # A new run stopped before its first progress point showed the user nothing: keeping it would be clutter.
    nothing = cancelled and session.start_epoch == 0 and epochs_done == 0 and shown == 0
    event = Finished(run_dir="" if nothing else str(run.path), device=str(session.device), epochs_done=epochs_done,
                     train_loss=train_loss, train_acc=train_acc, test_acc=test_acc,
                     examples_per_sec=trained / train_time if train_time > 0 else 0.0, cancelled=cancelled)
    if nothing:
        run.discard()
    else:
        _finish(session, event)
    emit(event)
    return event


def _read_back(loss_sum: torch.Tensor, correct: torch.Tensor, epoch: int, batch: int, seen: int,
               world: World = _ALONE, stop: bool = False) -> tuple[float, float, int, bool]:
    """The epoch's summed loss and correct count, the examples seen and whether to stop: one host-device
    synchronisation (and, with several processes, one all-reduce of these four numbers, so every process
    agrees on them); _Diverged on a non-finite loss."""
    values = torch.stack([loss_sum, correct.float()])
    if world.distributed:
        local = torch.tensor([seen, stop], dtype=values.dtype, device=values.device)
        values = distributed.all_sum(torch.cat([values, local]), world)
    total, right, *shared = values.tolist()
    if shared:
        seen, stop = int(shared[0]), shared[1] > 0
    if not math.isfinite(total):
        raise _Diverged(epoch, batch, total)
    return total, right, seen, stop


def _train_epoch(session: _Session, epoch: int, emit: Callable[[Event], None], cancel: threading.Event,
                 eval_time: float) -> _EpochSteps:
    """One epoch of optimizer steps, checking `cancel` before each; reads metrics back `points_per_epoch` times.

    Each point is the mean over the batches since the previous one (the sums are read back, the previous
    sums subtracted on the host); the epoch's own loss and accuracy stay running means over all its batches.
    Between points, StepProgress says how far the epoch is, without reading anything back.

    With several processes each takes its shard of every global batch, and a stop takes effect at the next
    point, where all processes agree on it (a process that stopped alone would leave the others waiting).
    """
    cfg, data, run, world, stepper = session.config, session.data, session.run, session.world, session.steps
    assert stepper is not None, "the run's steps are made before its first epoch"
    n_train, num_batches = len(data.train), session.num_batches
    points = {max(1, round(k * num_batches / cfg.points_per_epoch)) for k in range(1, cfg.points_per_epoch + 1)}
    session.model.train()
    t0 = last_tick = time.perf_counter()
    compiled_before = stepper.compile_seconds

    def stepping(now: float) -> float:
        """Seconds spent stepping this epoch: compiling is not training."""
        return now - t0 - (stepper.compile_seconds - compiled_before)
    loss_sum = torch.zeros((), device=session.device)
    correct = torch.zeros((), device=session.device, dtype=torch.int64)
    seen, done, emitted, cancelled = 0, 0, 0, False  # seen: examples stepped by this process
    seen_all = 0  # by all processes, as of the last point
    read = (0, 0, 0.0, 0.0)  # batch, examples (all processes), loss sum and correct count at the last point
    train_loss = train_acc = math.nan

    def point(batch: int) -> tuple[float, float, bool]:
        """Record the point after `batch`: (interval mean loss, interval accuracy, whether to stop)."""
        nonlocal read, train_loss, train_acc, seen_all
        total, right, seen_all, stop = _read_back(loss_sum, correct, epoch, batch, seen, world, cancel.is_set())
        n = seen_all - read[1]
        loss, acc = (total - read[2]) / n, (right - read[3]) / n
        read = (batch, seen_all, total, right)
        train_loss, train_acc = total / seen_all, right / seen_all
        run.add_steps([{"epoch_float": epoch - 1 + batch / num_batches, "train_loss": loss, "train_acc": acc}])
        return loss, acc, stop and world.distributed

    def eta(rate: float) -> float:
        left = (cfg.epochs - epoch) * n_train + (n_train - seen * world.size)
        return left / rate + (cfg.epochs - epoch + 1) * eval_time
    for i, (images, y) in enumerate(session.train_source.batches(cfg.batch_size, session.generator), 1):
        if cancelled or (cancel.is_set() and not world.distributed):
            cancelled = True
            break
        global_batch = len(y)
        images, y = distributed.shard(images, world), distributed.shard(y, world)
        # DDP averages gradients over processes; the scale makes that the global batch's mean loss
        scale = len(y) * world.size / global_batch if world.distributed else 1.0
        out, loss = stepper.train_step(session.batch(session.augmented(images)), y, loss_scale=scale)
        session.scheduler.step()
        loss_sum += loss.detach().float() * len(y)  # this process's summed loss (loss: its shard's mean)
        correct += (out.argmax(1) == y).sum()
        seen, done = seen + len(y), i
        now = time.perf_counter()
        if i in points:
            loss, acc, cancelled = point(i)
            emitted += 1
            rate = seen_all / stepping(now)
            emit(BatchProgress(epoch=epoch, batch=i, num_batches=num_batches, epoch_float=epoch - 1 + i / num_batches,
                               train_loss=loss, train_acc=acc, examples_per_sec=rate, eta_s=eta(rate),
                               hardware_share=session.hardware_share(rate)))
            last_tick = now
        elif i == 1 or now - last_tick >= STEP_PROGRESS_S:
            rate = seen * world.size / stepping(now)
            emit(StepProgress(epoch=epoch, batch=i, num_batches=num_batches, examples_per_sec=rate, eta_s=eta(rate)))
            last_tick = now
    if done != read[0]:  # stopped between points (one process only): record what was measured since the last one
        point(done)
    return _EpochSteps(seen_all, stepping(time.perf_counter()), train_loss, train_acc, cancelled, emitted)


def _finish(session: _Session, result: Finished) -> None:
    """Final weights and the run's closing status, after the last epoch or a stop."""
    run = session.run
    weights = distributed.unwrap(session.model).state_dict()
    run.save_torch("final.pt", {k: v.detach().cpu() for k, v in weights.items()})
    message = ""
    if result.cancelled and result.epochs_done:
        message = (f"Stopped on request during epoch {result.epochs_done + 1}; the checkpoint holds epoch "
                   f"{result.epochs_done}, where a resume continues.")
    elif result.cancelled:
        message = "Stopped on request before the first epoch finished, so there is nothing to resume."
    run.update(status="cancelled" if result.cancelled else "finished", message=message)


def _checkpoint(session: _Session, epoch: int) -> dict:
    ckpt = {"epoch": epoch, "model": distributed.unwrap(session.model).state_dict(),
            "optimizer": session.optimizer.state_dict(),
            "scheduler": session.scheduler.state_dict(), "generator": session.generator.get_state(),
            "rng_cpu": torch.get_rng_state(), "epochs": list(session.run.epochs)}
    if session.device.type == "cuda":
        ckpt["rng_cuda"] = torch.cuda.get_rng_state(session.device)
    return ckpt


@torch.inference_mode()
def evaluate(session: _Session, cancel: threading.Event | None = None) -> tuple[float, RunResults]:
    """Accuracy on the whole test split, with its confusion matrix and a few examples, misclassified first.

    With several processes each predicts its shard of every test batch and the predictions are gathered.
    """
    model, world = distributed.unwrap(session.model), session.world
    model.eval()
    test = session.test_source
    preds = []
    predict = session.steps.predict if session.steps is not None else partial(session.predict, model)
    for images, _ in test.batches(session.eval_batch_size, None):
        if cancel is not None and cancel.is_set() and not world.distributed:
            raise _Cancelled
        mine = predict(session.batch(distributed.shard(images, world))).argmax(1)
        preds.append(distributed.gather_shards(mine, len(images), world))
    pred = torch.cat(preds)
    k = len(session.data.classes)
    confusion = torch.bincount(test.labels * k + pred, minlength=k * k).reshape(k, k).cpu().numpy()
    pred_np, true_np = pred.cpu().numpy(), test.labels.cpu().numpy()
    wrong = np.flatnonzero(pred_np != true_np)
    chosen = np.concatenate([wrong, np.flatnonzero(pred_np == true_np)])[:NUM_EXAMPLES]
    examples = test.images_at(chosen)
    results = RunResults(classes=tuple(session.data.classes), confusion=confusion, examples=examples,
                         example_pred=pred_np[chosen], example_true=true_np[chosen])
    return float(np.trace(confusion)) / max(len(test), 1), results
