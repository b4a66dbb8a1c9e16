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
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .batch_sources import BatchSource
from .batching import prepare_batch
from .data import Dataset, DataError
from .events import BatchProgress, EpochEnd, Event, Failed, Finished, RunStarted
from .image_folder import DecodeCancelled
from .model import build_initialized
from .runs import RunError, RunFolder, RunResults
from .spec import ArchSpec, SpecError, check, to_dict
from .spec import load as load_spec
from .train_config import ConfigError, TrainConfig, validate_config
from .training_data import open_training_data, resolve_name

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
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


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

    @property
    def amp(self) -> bool:
        return self.config.amp and (self.device.type == "cuda" or (self.device.type == "cpu" and cpu_has_bf16()))

    @property
    def channels_last(self) -> bool:
        return self.config.channels_last and self.device.type in ("cuda", "cpu")

    @property
    def num_batches(self) -> int:
        return math.ceil(len(self.data.train) / self.config.batch_size)

    def batch(self, images_u8: torch.Tensor) -> torch.Tensor:
        d = self.data
        return prepare_batch(images_u8, self.spec.input_size, d.mean, d.std, channels_last=self.channels_last)

    def autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16) if self.amp else contextlib.nullcontext()


@dataclass
class _Progress:
    """How far `train` got, so the failure handlers know what there is to update."""

    run: RunFolder | None = None  # the run folder, once made or reopened
    started: bool = False  # the folder holds this session's settings and says "running"
    session: _Session | None = None


@dataclass
class _EpochSteps:
    """What one epoch's training steps measured (all of them, or those before a stop)."""

    seen: int  # examples stepped
    seconds: float
    train_loss: float  # running means over `seen`; NaN when nothing was stepped
    train_acc: float
    cancelled: bool


def train(spec: ArchSpec, config: TrainConfig, on_event: Callable[[Event], None] | None = None,
          cancel: threading.Event | None = None, runs_root=None, run_dir=None, resume=None) -> Finished | Failed:
    """Train `spec` with `config`, emitting events; returns (and emits last) the Finished or Failed event.

    `run_dir` names a new run folder (default: a fresh one under `runs_root`); `resume` continues the run
    in that folder from its last finished epoch up to `config.epochs`, with the run's own architecture.
    Expected failures come back as Failed with a message for the user, never as an exception.
    """
    emit = on_event or (lambda event: None)
    cancel = cancel if cancel is not None else threading.Event()
    progress = _Progress()

    def fail(kind, message: str) -> Failed:
        run = progress.run
        if run is not None and progress.started:
            run.update(status="failed", message=message)
        event = Failed(run_dir=str(run.path) if run is not None else None, kind=kind, message=message)
        emit(event)
        return event

    try:
        session = _prepare(spec, config, runs_root, run_dir, resume, progress, emit, cancel)
        return _run_epochs(session, emit, cancel)
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
            progress.run.update(status="cancelled",
                                message="Interrupted; the checkpoint holds the last finished epoch.")
        raise
    except Exception as exc:  # noqa: BLE001 - the last resort: any other error becomes a message and error.log
        if _is_out_of_memory(exc):
            return fail("out_of_memory", _oom_message(spec, config, progress.session))
        run = progress.run
        if run is not None:
            run.log_error(traceback.format_exc())
        where = f" (details in {run.path / 'error.log'})" if run is not None else ""
        return fail("error", f"Training stopped by an unexpected error: {type(exc).__name__}: {exc}{where}")


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
             emit: Callable[[Event], None], cancel: threading.Event) -> _Session:
    """Check the settings, load the data, build the model and optimizer, then make or reopen the run folder."""
    problems = validate_config(config)
    if problems:
        raise ConfigError(" ".join(problems))
    device = pick_device(config.device)
    dataset = resolve_name(config)
    config = config.replace(dataset=dataset)  # saved resolved, so a resume trains on the same data
    opened = open_training_data(config, spec.in_channels, spec.input_size, device, emit, cancel)
    data = opened.dataset
    spec = check(spec.replace(in_channels=data.channels, num_classes=len(data.classes)))

    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    model = build_initialized(spec).to(device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = config.cudnn_benchmark
    if config.channels_last and device.type in ("cuda", "cpu"):
        model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model.parameters(), config)
    total_steps = config.epochs * math.ceil(len(data.train) / config.batch_size)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(config.schedule, step, total_steps))
    params = sum(p.numel() for p in model.parameters())

    start_epoch, elapsed_before = 0, 0.0
    if resume is not None:
        run = RunFolder.reopen(resume)
        progress.run = run
        saved = load_spec(run.path / "arch.json")
        if to_dict(saved) != to_dict(spec):
            raise SpecError(f"{run.path} was trained with a different architecture ({saved.name}); resume it "
                            f"with its own architecture (arch.json in the run folder).")
        ckpt = run.load_checkpoint()
        start_epoch = int(ckpt["epoch"])
        if config.epochs <= start_epoch:
            raise ConfigError(f"The run in {run.path} already has {start_epoch} epochs; ask for more than "
                              f"{start_epoch} epochs to continue it.")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        generator.set_state(ckpt["generator"])
        torch.set_rng_state(ckpt["rng_cpu"])
        if device.type == "cuda" and "rng_cuda" in ckpt:
            torch.cuda.set_rng_state(ckpt["rng_cuda"], device)
        run.truncate(start_epoch)
        elapsed_before = run.epochs[-1]["elapsed_s"] if run.epochs else 0.0
        run.write_config(config)
        run.update(status="running", message="", device=str(device), epochs=config.epochs)
    else:
        run = RunFolder.create(spec, config, root=runs_root, path=run_dir, device=str(device), dataset=dataset,
                               params=params, epochs=config.epochs)
        progress.run = run
    progress.started = True
    progress.session = _Session(spec, config, device, data, opened.train, opened.test, opened.notes, model,
                                optimizer, scheduler, generator, run, start_epoch, elapsed_before)
    return progress.session


def _run_epochs(session: _Session, emit: Callable[[Event], None], cancel: threading.Event) -> Finished:
    """Epochs of training steps and a test pass each, the run folder kept current; ends with Finished."""
    cfg, data, run = session.config, session.data, session.run
    emit(RunStarted(run_dir=str(run.path), device=str(session.device), dataset=data.name,
                    num_train=len(data.train), num_test=len(data.test), batches_per_epoch=session.num_batches,
                    epochs=cfg.epochs, start_epoch=session.start_epoch,
                    params=sum(p.numel() for p in session.model.parameters()), classes=data.classes,
                    data_notes=session.data_notes))
    t_run = time.perf_counter()
    trained, train_time, eval_time = 0, 0.0, 0.0  # this session: examples stepped, seconds stepping / testing
    last = run.epochs[-1] if run.epochs else {}
    train_loss, train_acc = last.get("train_loss", math.nan), last.get("train_acc", math.nan)
    test_acc = last.get("test_acc", math.nan)
    epochs_done, cancelled = session.start_epoch, False

    for epoch in range(session.start_epoch + 1, cfg.epochs + 1):
        steps = _train_epoch(session, epoch, emit, cancel, eval_time)
        trained, train_time = trained + steps.seen, train_time + steps.seconds
        if steps.seen:
            train_loss, train_acc = steps.train_loss, steps.train_acc
        if steps.cancelled:
            cancelled = True
            break
        t1 = time.perf_counter()
        try:
            test_acc, results = evaluate(session, cancel)
        except _Cancelled:
            cancelled = True
            break
        eval_time = time.perf_counter() - t1
        elapsed = session.elapsed_before + time.perf_counter() - t_run
        lr = session.optimizer.param_groups[0]["lr"]
        rate = steps.seen / steps.seconds
        run.add_epoch({"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc, "test_acc": test_acc,
                       "examples_per_sec": rate, "elapsed_s": elapsed, "lr": lr})
        run.save_results(results)
        run.save_torch("checkpoint.pt", _checkpoint(session, epoch))
        epochs_done = epoch
        emit(EpochEnd(epoch=epoch, train_loss=train_loss, train_acc=train_acc, test_acc=test_acc,
                      examples_per_sec=rate, elapsed_s=elapsed,
                      eta_s=(cfg.epochs - epoch) * (steps.seconds + eval_time), lr=lr))

    event = Finished(run_dir=str(run.path), device=str(session.device), epochs_done=epochs_done,
                     train_loss=train_loss, train_acc=train_acc, test_acc=test_acc,
                     examples_per_sec=trained / train_time if train_time > 0 else 0.0, cancelled=cancelled)
    _finish(session, event)
    emit(event)
    return event


def _read_back(loss_sum: torch.Tensor, correct: torch.Tensor, seen: int, epoch: int, batch: int) -> tuple[float, float]:
    """Running mean loss and accuracy: one host-device synchronisation; raises _Diverged on a non-finite loss."""
    total, right = torch.stack([loss_sum, correct.float()]).tolist()
    if not math.isfinite(total):
        raise _Diverged(epoch, batch, total)
    return total / seen, right / seen


def _train_epoch(session: _Session, epoch: int, emit: Callable[[Event], None], cancel: threading.Event,
                 eval_time: float) -> _EpochSteps:
    """One epoch of optimizer steps, checking `cancel` before each; reads metrics back a few times only."""
    cfg, data, model, run = session.config, session.data, session.model, session.run
    n_train, num_batches = len(data.train), session.num_batches
    points = {max(1, round(k * num_batches / cfg.points_per_epoch)) for k in range(1, cfg.points_per_epoch + 1)}
    model.train()
    t0 = time.perf_counter()
    loss_sum = torch.zeros((), device=session.device)
    correct = torch.zeros((), device=session.device, dtype=torch.int64)
    seen, done, read, cancelled = 0, 0, 0, False
    train_loss = train_acc = math.nan
    for i, (images, y) in enumerate(session.train_source.batches(cfg.batch_size, session.generator), 1):
        if cancel.is_set():
            cancelled = True
            break
        x = session.batch(images)
        with session.autocast():
            out = model(x)
            loss = F.cross_entropy(out, y)
        session.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        session.optimizer.step()
        session.scheduler.step()
        loss_sum += loss.detach().float() * len(y)
        correct += (out.argmax(1) == y).sum()
        seen, done = seen + len(y), i
        if i in points:
            train_loss, train_acc = _read_back(loss_sum, correct, seen, epoch, i)
            read = i
            x_epoch = epoch - 1 + i / num_batches
            run.add_steps([{"epoch_float": x_epoch, "train_loss": train_loss, "train_acc": train_acc}])
            rate = seen / (time.perf_counter() - t0)
            left = (cfg.epochs - epoch) * n_train + (n_train - seen)
            emit(BatchProgress(epoch=epoch, batch=i, num_batches=num_batches, epoch_float=x_epoch,
                               train_loss=train_loss, train_acc=train_acc, examples_per_sec=rate,
                               eta_s=left / rate + (cfg.epochs - epoch + 1) * eval_time))
    if done != read:  # stopped between read-backs: record what was measured since the last one
        train_loss, train_acc = _read_back(loss_sum, correct, seen, epoch, done)
        run.add_steps([{"epoch_float": epoch - 1 + done / num_batches, "train_loss": train_loss,
                        "train_acc": train_acc}])
    return _EpochSteps(seen, time.perf_counter() - t0, train_loss, train_acc, cancelled)


def _finish(session: _Session, result: Finished) -> None:
    """Final weights and the run's closing status, after the last epoch or a stop."""
    run = session.run
    run.save_torch("final.pt", {k: v.detach().cpu() for k, v in session.model.state_dict().items()})
    message = ""
    if result.cancelled and result.epochs_done:
        message = (f"Stopped on request during epoch {result.epochs_done + 1}; the checkpoint holds epoch "
                   f"{result.epochs_done}, where a resume continues.")
    elif result.cancelled:
        message = "Stopped on request before the first epoch finished, so there is nothing to resume."
    run.update(status="cancelled" if result.cancelled else "finished", message=message)


def _checkpoint(session: _Session, epoch: int) -> dict:
    ckpt = {"epoch": epoch, "model": session.model.state_dict(), "optimizer": session.optimizer.state_dict(),
            "scheduler": session.scheduler.state_dict(), "generator": session.generator.get_state(),
            "rng_cpu": torch.get_rng_state(), "epochs": list(session.run.epochs)}
    if session.device.type == "cuda":
        ckpt["rng_cuda"] = torch.cuda.get_rng_state(session.device)
    return ckpt


@torch.inference_mode()
def evaluate(session: _Session, cancel: threading.Event | None = None) -> tuple[float, RunResults]:
    """Accuracy on the whole test split, with its confusion matrix and a few examples, misclassified first."""
    session.model.eval()
    test = session.test_source
    preds = []
    for images, _ in test.batches(2 * session.config.batch_size, None):
        if cancel is not None and cancel.is_set():
            raise _Cancelled
        with session.autocast():
            preds.append(session.model(session.batch(images)).argmax(1))
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
