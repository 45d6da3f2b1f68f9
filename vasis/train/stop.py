"""Stopping a run cleanly on a signal: SIGINT (Ctrl-C), SIGTERM (a scheduler's termination
notice) and SIGUSR1 (SLURM's pre-emption warning, ``sbatch --signal=USR1@60``).

The handler only records the signal; the trainer looks at the record at each step boundary,
writes a checkpoint (atomically, as every checkpoint) and raises :class:`TrainingStopped`.
Under torchrun the record is all-reduced every step (the largest signal number wins), so every
rank stops after the same step even when the signal reaches the ranks at different moments.

Exit codes follow the shell's 128 + signal number: 130 (SIGINT), 143 (SIGTERM), 138 (SIGUSR1
on Linux). Further signals while stopping are ignored, because torchrun forwards the signal it
receives to ranks that may already have it; SIGKILL still ends a process at once.
"""
from __future__ import annotations

import os
import shlex
import signal
import sys
import threading

from .distributed import DistEnv, max_over_ranks

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGUSR1")
                     if hasattr(signal, name))


class TrainingStopped(Exception):
    """The run stopped on a signal after ``step`` with a checkpoint (not an error)."""

    def __init__(self, signum: int, step: int, checkpoint, run_dir, is_main: bool = True):
        self.signum, self.step, self.checkpoint, self.is_main = signum, step, checkpoint, is_main
        name = signal.Signals(signum).name
        super().__init__(f"stopped by {name} after step {step}; checkpoint {checkpoint}. "
                         f"Continue with: {resume_command(run_dir)}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def resume_command(run_dir) -> str:
    python = os.path.relpath(sys.executable)
    if python.startswith(".."):  # an interpreter outside this folder: the one on PATH
        python = "python"
    return shlex.join([python, "run_analysis.py", "train", "--resume", "--out", str(run_dir)])


class StopOnSignals:
    """Context manager: while active, the stop signals set :attr:`signum` instead of acting.

    Outside the main thread (where Python cannot set handlers) it does nothing."""

    def __init__(self):
        self.signum = 0
        self._old: dict = {}

    def _handle(self, signum, frame) -> None:
        if not self.signum:
            self.signum = signum

    def __enter__(self) -> "StopOnSignals":
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()

    def requested(self, env: DistEnv) -> int:
        """The signal that asks to stop (0: none), the same on every rank."""
        return max_over_ranks(self.signum, env)
