"""Launching a training run on several processes with torchrun, and following it like a local run.

`vgg-studio train --nproc-per-node N` (and the window's Processes setting) start PyTorch's own launcher,
`python -m torch.distributed.run`, which starts the training processes and rendezvous; nothing here
manages processes or communication beyond starting torchrun and signalling it to stop.

The event stream: rank 0 runs `vgg-studio train ... --events jsonl` and writes one JSON object per line
on its standard output for every engine event (`events.event_to_json`: {"event": "BatchProgress", ...}).
torchrun passes its workers' standard output through, so the launching process reads those lines from
torchrun's stdout and hands the events to the same printer (CLI) or worker thread (window) that a local
run feeds. Whatever else the processes print (torchrun's own log on stderr, library warnings) is kept
and shown only when the launch fails without an engine message. Stop: one SIGINT to torchrun, which
forwards it to every worker; each stops at the next metrics read-back, together, and rank 0 closes the
run folder as a local stop would.
"""

from __future__ import annotations

import collections
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .events import Event, Failed, Finished, event_from_json
from .train_config import ConfigError

RDZV_TIMEOUT_S = 60  # how long a node waits for the others to join before giving up with a message
STOP_GRACE_S = 60  # after a stop request, how long the processes get to finish their batch before a kill


@dataclass(frozen=True)
class Launch:
    """How many processes on how many machines, and where they meet."""

    nproc_per_node: int = 1
    nnodes: int = 1
    node_rank: int = 0
    rdzv_endpoint: str | None = None  # HOST:PORT of node 0; None on one machine
    rdzv_timeout_s: int = RDZV_TIMEOUT_S

    @property
    def world_size(self) -> int:
        return self.nproc_per_node * self.nnodes

    @property
    def is_main_node(self) -> bool:
        return self.node_rank == 0


def check_launch(launch: Launch, batch_size: int) -> list[str]:
    """Every problem with a launch, as sentences naming the flag; empty when it can start."""
    problems = []
    if launch.nproc_per_node < 1:
        problems.append(f"--nproc-per-node must be at least 1 (got {launch.nproc_per_node}).")
    if launch.nnodes < 1:
        problems.append(f"--nnodes must be at least 1 (got {launch.nnodes}).")
    elif not 0 <= launch.node_rank < launch.nnodes:
        problems.append(f"--node-rank must be between 0 and {launch.nnodes - 1} (got {launch.node_rank}).")
    if launch.nnodes > 1 and not launch.rdzv_endpoint:
        problems.append("Several machines need a meeting point: give --rdzv-endpoint HOST:PORT (node 0's "
                        "address and a free port), the same on every machine.")
    if launch.rdzv_endpoint:
        try:
            parse_endpoint(launch.rdzv_endpoint)
        except ConfigError as exc:
            problems.append(str(exc))
    if not problems and batch_size % launch.world_size:
        problems.append(f"Batch size {batch_size} is the global batch and must divide evenly among the "
                        f"{launch.world_size} processes; choose a multiple of {launch.world_size}.")
    return problems


def parse_endpoint(endpoint: str) -> tuple[str, int]:
    host, sep, port = endpoint.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--rdzv-endpoint must be HOST:PORT with a port from 1 to 65535 (got {endpoint!r}).")
    return host.strip("[]"), int(port)


def torchrun_command(launch: Launch, train_args: list[str]) -> list[str]:
    """`python -m torch.distributed.run ... -m vgg_studio train ARGS`: one node standalone, or static
    rendezvous at node 0's endpoint for several (node ranks given, as in PyTorch's multi-node recipe)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(launch.nproc_per_node)]
    if launch.nnodes == 1 and not launch.rdzv_endpoint:
        cmd.append("--standalone")
    else:
        host, port = parse_endpoint(launch.rdzv_endpoint or "")
        cmd += ["--nnodes", str(launch.nnodes), "--node-rank", str(launch.node_rank), "--master-addr", host,
                "--master-port", str(port), "--rdzv-conf", f"timeout={launch.rdzv_timeout_s}"]
    return [*cmd, "-m", "vgg_studio", "train", *train_args]


def wait_for_endpoint(launch: Launch, cancel: threading.Event | None = None) -> None:
    """On a node other than 0, wait (bounded) until node 0's endpoint accepts connections, or say why not."""
    if launch.is_main_node or not launch.rdzv_endpoint:
        return
    host, port = parse_endpoint(launch.rdzv_endpoint)
    deadline = time.monotonic() + launch.rdzv_timeout_s
    last: OSError | None = None
    while time.monotonic() < deadline and not (cancel and cancel.is_set()):
        try:
            with socket.create_connection((host, port), timeout=2):
                return
        except OSError as exc:
            last = exc
            time.sleep(0.5)
    reason = f" ({last.strerror or last})" if last else ""
    raise ConfigError(f"Node 0 is not reachable at {host}:{port} after {launch.rdzv_timeout_s} s{reason}. Start "
                      f"node 0 first (--node-rank 0 on {host}), check the address and port, and that no "
                      f"firewall blocks it.")


def follow(cmd: list[str], on_event: Callable[[Event], None], cancel: threading.Event,
           env: dict[str, str] | None = None) -> Finished | Failed | None:
    """Run torchrun, hand rank 0's events to `on_event` as they come, stop it when `cancel` is set.

    Returns the run's closing event (Finished or Failed); None when this node has no rank 0 and the
    processes ended without error. A launch that dies without an engine message becomes a Failed that
    quotes the last lines its processes printed.
    """
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
                            env={**os.environ, **(env or {})}, start_new_session=True)
    log: collections.deque[str] = collections.deque(maxlen=40)
    threads = [threading.Thread(target=lambda: log.extend(proc.stderr), daemon=True),  # type: ignore[arg-type]
               threading.Thread(target=_stop_when, args=(proc, cancel), daemon=True)]
    for t in threads:
        t.start()
    closing: Finished | Failed | None = None
    for line in proc.stdout:  # type: ignore[union-attr]
        event = event_from_json(line)
        if event is None:
            log.append(line)
            continue
        if isinstance(event, (Finished, Failed)):
            closing = event
        else:
            on_event(event)
    rc = proc.wait()
    threads[0].join(timeout=5)
    if closing is None and rc != 0 and not cancel.is_set():
        said = [ln.strip() for ln in log if ln.strip() and not ln.startswith((" ", "\t", "Traceback"))]
        closing = Failed(run_dir=None, kind="error",
                         message=f"The training processes stopped unexpectedly (torchrun exit status {rc})"
                                 + (f"; the last thing they said: {said[-1]}" if said else "."))
    if closing is None and cancel.is_set():
        closing = Failed(run_dir=None, kind="error", message="Stopped before training began.")
    return closing


def _stop_when(proc: subprocess.Popen, cancel: threading.Event) -> None:
    """One SIGINT to torchrun once a stop is asked for (it forwards it to every worker); a kill if they hang."""
    while proc.poll() is None:
        if cancel.wait(0.2):
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
            return


def train_in_processes(spec, config, on_event: Callable[[Event], None] | None = None,
                       cancel: threading.Event | None = None, runs_root=None, *, processes: int = 2,
                       run_dir=None, resume=None, parent=None) -> Finished | Failed:
    """`engine.train`'s signature, run on `processes` local processes through torchrun (the window's
    Processes setting): the same events reach `on_event`, the same `cancel` stops every process."""
    import tempfile

    from .atomic import atomic_write_text
    from .spec import to_json
    from .train_config import validate_config

    emit = on_event or (lambda event: None)
    cancel = cancel if cancel is not None else threading.Event()
    launch = Launch(nproc_per_node=processes)
    problems = validate_config(config) + check_launch(launch, config.batch_size)
    if problems:
        failed = Failed(run_dir=None, kind="spec", message=" ".join(problems))
        emit(failed)
        return failed
    with tempfile.TemporaryDirectory(prefix="vgg-studio-launch-") as tmp:
        arch, cfg = Path(tmp) / "arch.json", Path(tmp) / "config.json"
        atomic_write_text(arch, to_json(spec))
        atomic_write_text(cfg, config_json(config))
        args = ["--resume", str(resume)] if resume else ["--arch", str(arch)]
        args += ["--config", str(cfg), "--events", "jsonl"] + (["--out", str(run_dir)] if run_dir else [])
        args += ["--parent", str(parent)] if parent and not resume else []
        env = {"VGG_STUDIO_RUNS": str(runs_root)} if runs_root is not None else {}
        result = follow(torchrun_command(launch, args), emit, cancel, env)
    result = result or Failed(run_dir=None, kind="error", message="The training processes reported no result.")
    emit(result)
    return result


def config_json(config) -> str:
    import json

    return json.dumps(config.to_dict(), indent=2) + "\n"
