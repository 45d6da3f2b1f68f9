"""Training checkpoints: atomic writes, the last good ones kept, RNG states for exact resumes.

A checkpoint is one ``torch.save`` dict (loadable with ``weights_only=True``)::

    format, version, step, epoch, batch (batches of ``epoch`` already done),
    run        the run's settings (model, dataset, sizes, overrides, recipe, losses, seed, ...)
    generator, discriminator, ema, ema_eval       state dicts (no DDP ``module.`` prefix)
    opt_g, opt_d, sched_g, sched_d, scaler_g, scaler_d
    rng        torch (+ cuda), numpy and python RNG states

Files live in ``<run>/checkpoints/step_<step>.pt``. A save writes a temporary file in the same
folder, flushes and fsyncs it, then ``os.replace``s it into place (and fsyncs the folder), so a
crash leaves either the old set or the new file complete - never a torn checkpoint. Older
checkpoints are removed only after the new one is in place; ``keep`` of them stay.
"""
from __future__ import annotations

import os
import random
import re
import warnings
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_write
from ..atomic import atomic_write_text as _atomic_write_text
from ..errors import UserError, MissingFileError
from ..loading import load_torch_file

FORMAT = "vasis-train-checkpoint"
VERSION = 1
CKPT_DIR = "checkpoints"
_NAME = re.compile(r"^step_(\d+)\.pt$")


def checkpoint_dir(run_dir) -> Path:
    return Path(run_dir) / CKPT_DIR


def atomic_save(obj, path) -> Path:
    """``torch.save`` to ``path`` atomically and durably (fsync of file and folder)."""
    return atomic_write(path, lambda f: torch.save(obj, f), durable=True)


def atomic_write_text(path, text: str) -> Path:
    return _atomic_write_text(path, text, durable=True)


def list_checkpoints(run_dir) -> list[Path]:
    """Checkpoint files of a run, newest (highest step) first."""
    d = checkpoint_dir(run_dir)
    if not d.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in d.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found, reverse=True)]


def save_checkpoint(run_dir, state: dict, keep: int = 2) -> Path:
    """Write ``state`` as ``step_<step>.pt`` atomically, then drop all but the ``keep`` newest."""
    state = dict(state, format=FORMAT, version=VERSION)
    path = atomic_save(state, checkpoint_dir(run_dir) / f"step_{int(state['step']):08d}.pt")
    for old in list_checkpoints(run_dir)[max(1, keep):]:
        try:
            old.unlink()
        except FileNotFoundError:
            pass
    for stale in checkpoint_dir(run_dir).glob(".step_*.pt.tmp-*"):
        try:  # temporaries of a killed writer (never a complete checkpoint)
            if int(stale.name.rsplit("-", 1)[1]) != os.getpid():
                stale.unlink()
        except (ValueError, FileNotFoundError):
            pass
    return path


def is_training_state(obj) -> bool:
    """Whether a loaded object is one of this trainer's checkpoints (by its content)."""
    return isinstance(obj, dict) and obj.get("format") == FORMAT


def check_state(state, path) -> dict:
    """``state`` (read from ``path``) if it is a trainer checkpoint this code reads."""
    if not is_training_state(state):
        raise UserError(f"{path} is not a vasis training checkpoint (no format={FORMAT!r} entry); "
                        f"give a run folder or its checkpoints/step_*.pt")
    if state.get("version", 0) > VERSION:
        raise UserError(f"{path} has checkpoint version {state['version']}; this code reads "
                         f"up to {VERSION}")
    return state


def read_checkpoint(path) -> dict:
    """Load one checkpoint file (CPU tensors, ``weights_only=True``); a
    :class:`vasis.errors.UserError` if it does not read back or is not a trainer checkpoint."""
    # The trainer writes tensors and plain values only: no opt-in to full unpickling here.
    return check_state(load_torch_file(path, what="training checkpoint", trust_hint=None), path)


def load_latest(run_dir) -> tuple[Path, dict]:
    """The newest checkpoint of a run that reads back completely (older ones are the fallback)."""
    candidates = list_checkpoints(run_dir)
    if not candidates:
        raise MissingFileError(f"no checkpoint in {checkpoint_dir(run_dir)} (step_*.pt)")
    errors = []
    for path in candidates:
        try:
            return path, read_checkpoint(path)
        except UserError as err:  # a damaged file: fall back to the previous checkpoint
            errors.append(f"{path.name}: {err}")
            warnings.warn(f"skipping unreadable checkpoint {path}: {err}")
    raise UserError(f"no readable checkpoint in {checkpoint_dir(run_dir)}: " + "; ".join(errors))


def resolve_checkpoint(path) -> tuple[Path, dict]:
    """A run folder (its newest good checkpoint) or a checkpoint file."""
    p = Path(path)
    if p.is_dir():
        return load_latest(p)
    if not p.is_file():
        raise MissingFileError(f"checkpoint {p} does not exist (give a run folder or a .pt file)")
    return p, read_checkpoint(p)


# --------------------------------------------------------------------------------------------
# RNG states (tensors and plain Python values only, so weights_only loading works)

def rng_state() -> dict:
    np_state = np.random.get_state(legacy=False)
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
                  "pos": int(np_state["state"]["pos"]),
                  "has_gauss": int(np_state["has_gauss"]),
                  "gauss": float(np_state["gauss"])},
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state({"bit_generator": "MT19937",
                         "state": {"key": n["key"].numpy().astype(np.uint32), "pos": n["pos"]},
                         "has_gauss": n["has_gauss"], "gauss": n["gauss"]})
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    if "cuda" in state and torch.cuda.is_available():
        cuda = state["cuda"]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
