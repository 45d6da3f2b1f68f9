"""Train-or-reuse of the jobs' short training runs (the main job's training part and the
experiments' rows without a checkpoint): one rule for both.

A folder is only ever reused, resumed or replaced when it looks like a trainer run
(:func:`looks_like_run`); anything else there raises :class:`vasis.errors.ExistsError`. A
complete run with the same settings is reused, a shorter one resumed, one with other settings
or more iterations (or without a readable checkpoint) replaced. Errors of the trainer are never
swallowed.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

from vasis.errors import ExistsError, UserError
from vasis.train import list_checkpoints, load_latest, train
from vasis.train.monitor import read_losses
from vasis.train.trainer import RESUME_UPDATABLE

__all__ = ["RUN_FILES", "looks_like_run", "check_run_dir", "train_or_reuse", "last_losses"]

RUN_FILES = {"run.json", "checkpoints", "losses.jsonl", "tb"}   # what the trainer writes


def _comparable(d: dict) -> dict:
    return {k: v for k, v in d.items() if k not in RESUME_UPDATABLE}


def looks_like_run(run_dir) -> bool:
    """A folder holding nothing but what the trainer writes (:data:`RUN_FILES`)."""
    run_dir = Path(run_dir)
    return run_dir.is_dir() and {p.name for p in run_dir.iterdir()} <= RUN_FILES


def check_run_dir(run_dir) -> None:
    """Refuse, before anything runs, a foreign file or folder where a training run would go
    (it is never replaced)."""
    run_dir = Path(run_dir)
    if run_dir.exists() and (not run_dir.is_dir() or (any(run_dir.iterdir())
                                                      and not looks_like_run(run_dir))):
        raise ExistsError(f"{run_dir} exists and is not a training run of this job; "
                          f"move it away or choose another --out")


def train_or_reuse(settings, run_dir, progress: bool = True, device: str | None = None) -> dict:
    """Train ``settings`` into ``run_dir``; reuse a complete run, resume a shorter one.

    Returns ``{'status': 'reused' | 'resumed' | 'trained' | 'retrained', 'step', 'from_step',
    'seconds'}``.
    """
    run_dir = Path(run_dir)
    check_run_dir(run_dir)
    t0 = time.time()
    status, from_step = "trained", 0
    if run_dir.exists() and any(run_dir.iterdir()):
        state = None
        if list_checkpoints(run_dir):
            try:
                _, state = load_latest(run_dir)
            except UserError:  # no readable checkpoint (each damaged one was named): start over
                state = None
        if state is not None:
            same = _comparable(state["run"]) == _comparable(settings.to_dict())
            step = int(state["step"])
            if same and step == settings.iters:
                return dict(status="reused", step=step, from_step=step, seconds=0.0)
            if same and step < settings.iters:
                res = train(None, run_dir, resume=True, updates={"iters": settings.iters},
                            progress=progress, device=device)
                return dict(status="resumed", step=res.step, from_step=step,
                            seconds=time.time() - t0)
        # other settings, more iterations than asked, or no readable checkpoint: start over
        shutil.rmtree(run_dir)
        status = "retrained"
    res = train(settings, run_dir, progress=progress, device=device)
    return dict(status=status, step=res.step, from_step=from_step, seconds=time.time() - t0)


def last_losses(run_dir) -> dict:
    """The last logged losses of a run (without step and time)."""
    rows = read_losses(run_dir)
    return {k: v for k, v in rows[-1].items() if k not in ("step", "time")} if rows else {}
