"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Every writer of the suite (checkpoints, reports, figures, cached statistics) goes through
:func:`atomic_write`: the data goes to a temporary file in the target's folder, which then
replaces the target with ``os.replace``. ``durable=True`` also fsyncs the file and the folder,
for files that must survive a crash of the machine (training checkpoints).
"""
from __future__ import annotations

import os
import tempfile
from contextlib import suppress
from pathlib import Path
from typing import BinaryIO, Callable


def _file_mode() -> int:
    # mkstemp creates 0600; give the file the mode a plain open() would have.
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _fsync_dir(path: Path) -> None:
    with suppress(OSError):  # platforms without directory file descriptors
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path, write: Callable[[BinaryIO], None], *, durable: bool = False) -> Path:
    """Call ``write(f)`` on a temporary binary file, then move it onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if durable:
        _fsync_dir(path.parent)
    return path


def atomic_write_bytes(path, data: bytes, *, durable: bool = False) -> Path:
    return atomic_write(path, lambda f: f.write(data), durable=durable)


def atomic_write_text(path, text: str, *, durable: bool = False) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"), durable=durable)
