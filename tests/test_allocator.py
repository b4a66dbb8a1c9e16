"""On glibc, freed memory stays in the process: a training step's large tensors come back without page faults."""

from __future__ import annotations

import os
import platform
import resource

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vgg_studio import steps
from vgg_studio.allocator import keep_freed_memory


def _forward_loss(net, x, y):
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = net(x)
        return out, F.cross_entropy(out, y)


def test_training_steps_reuse_their_memory_instead_of_faulting_in_fresh_pages():
    glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert keep_freed_memory() is glibc and keep_freed_memory() is glibc  # once per process, then the same answer
    if not glibc:
        return  # elsewhere the C library's allocator is left as it is; nothing further to check
    # VGG's classifier at a small input: each step frees and re-allocates a 32 MB bf16 weight gradient, above
    # glibc's largest mmap threshold, so by default every step maps it afresh (8192 page faults of 4 KB).
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 4096), nn.ReLU(), nn.Dropout(0.5),
                          nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4096, 10))
    stepper = steps.Steps(model, torch.optim.SGD(model.parameters(), lr=0.01), _forward_loss, lambda net, x: net(x),
                          compile=False, kept_bf16=True, batch_size=32, eval_batch_size=32,
                          on_compiling=lambda step: None, on_fallback=pytest.fail)
    x, y = torch.randn(32, 64), torch.randint(0, 10, (32,))
    faults = []
    for _ in range(8):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        stepper.train_step(x, y)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    assert max(faults[-4:]) < 256, faults  # the first steps grow the heap; after that it is reused


def test_the_command_line_asks_for_huge_pages_unless_the_user_said_otherwise(monkeypatch):
    from vgg_studio import cli

    linux = platform.system() == "Linux"
    for preset_value, expected in ((None, "1" if linux else None), ("0", "0")):
        if preset_value is None:
            monkeypatch.delenv("THP_MEM_ALLOC_ENABLE", raising=False)
        else:
            monkeypatch.setenv("THP_MEM_ALLOC_ENABLE", preset_value)
        with pytest.raises(SystemExit):
            cli.main(["--version"])
        assert os.environ.get("THP_MEM_ALLOC_ENABLE") == expected
