"""Read a user-given ``torch.save`` file safely: the one place the suite calls ``torch.load`` on one.

:func:`load_torch_file` reads with ``weights_only=True`` (tensors, dicts, lists, numbers,
strings only: nothing in the file can run code). Full unpickling, which executes whatever
callables the pickle names (a checkpoint can run ``os.system``), happens only with
``trust=True``. Every way a file fails to be a checkpoint (missing, empty, not a zip archive or
pickle such as a README, a truncated zip, a damaged pickle, Python objects that need full
unpickling) becomes one :class:`vasis.errors.UserError` naming the file and what it is not.
"""
from __future__ import annotations

import os
import pickle
import pickletools
import re
import warnings
import zipfile

import torch

from .errors import MissingFileError, UserError

__all__ = ["load_torch_file", "TRUST_HINT"]

TRUST_HINT = "trust=True (on the command line --trust-checkpoint)"
_PICKLE_PROTO = 0x80  # first byte of every binary pickle (protocol >= 2), torch's legacy format too


def _kind(path: str) -> tuple[str, bytes]:
    """('empty' | 'zip' | 'pickle' | 'other', the first bytes) from the file's head."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    if not head:
        return "empty", head
    if head.startswith(b"PK"):
        return "zip", head
    if head[0] == _PICKLE_PROTO:
        return "pickle", head
    return "other", head


def _pickle_stream(path: str, kind: str) -> bytes | None:
    """The pickle bytes of a plain pickle or of a torch zip (its data.pkl), or None."""
    try:
        if kind == "pickle":
            with open(path, "rb") as fh:
                return fh.read()
        with zipfile.ZipFile(path) as zf:
            name = next((n for n in zf.namelist() if n.endswith("data.pkl")), None)
            return zf.read(name) if name else None
    except (OSError, zipfile.BadZipFile):
        return None


def _globals_named(data: bytes) -> tuple[list[str], bool]:
    """(the ``module.name`` globals a pickle would import, whether it disassembled to its end),
    read by disassembly: nothing in it runs."""
    names, strings = [], []
    complete = False
    try:
        for op, arg, _ in pickletools.genops(data):
            if op.name == "GLOBAL":
                names.append(str(arg).replace(" ", "."))
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                names.append(f"{strings[-2]}.{strings[-1]}")
            elif isinstance(arg, str):
                strings.append(arg)
        complete = True
    except ValueError:  # a damaged stream (incl. UnicodeDecodeError): report what was read so far
        pass
    return list(dict.fromkeys(names)), complete


# Globals a weights_only load accepts anyway (tensor rebuilding, OrderedDict): not the reason.
_SAFE = re.compile(r"^(torch\.|collections\.OrderedDict$|builtins\.(set|frozenset|slice|bytearray|complex)$"
                   r"|_codecs\.encode$)")


def _short(err: BaseException) -> str:
    text = " ".join(str(err).split())
    for pattern in (r"Unsupported global: GLOBAL \S+", r"unsupported GLOBAL \S+",
                    r"Unsupported operand \d+", r"failed finding central directory", r"invalid load key, '[^']*'",
                    r"pickle data was truncated", r"could not find MARK"):
        m = re.search(pattern, text)
        if m:
            return m.group(0)
    return (text[:120] + "...") if len(text) > 120 else (text or type(err).__name__)


def load_torch_file(path, *, what: str = "checkpoint", trust: bool = False,
                    trust_hint: str | None = TRUST_HINT):
    """``torch.load(path, map_location='cpu', weights_only=not trust)`` with one clear error.

    ``what`` names the file in messages ("checkpoint", "FID weights file", ...); ``trust_hint``
    says how the caller opts in to full unpickling (None: there is no opt-in, e.g. for the
    suite's own training checkpoints, which never need it). Raises :class:`MissingFileError` for a
    missing file or a folder, :class:`UserError` for anything that does not read back.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise MissingFileError(
            f"no {what} file at {path!r}{' (it is a directory)' if os.path.isdir(path) else ''}")
    kind, head = _kind(path)
    if kind == "empty":
        raise UserError(f"{what} {path!r} is an empty file, not a PyTorch checkpoint; copy or "
                        f"download it again")
    if kind == "other":
        raise UserError(f"{what} {path!r} is not a PyTorch checkpoint (neither the zip archive "
                        f"nor the pickle torch.save writes; it starts with {head[:8]!r}); give "
                        f"the .pt / .pth file")
    try:
        with warnings.catch_warnings():
            # torch warns about pickle protocols its safe reader may not know; the error says it.
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(path, map_location="cpu", weights_only=not trust)
    except pickle.UnpicklingError as err:
        if not trust and "Weights only load failed" in str(err):
            names, complete = _globals_named(_pickle_stream(path, kind) or b"")
            foreign = [g for g in names if not _SAFE.match(g)]
            if foreign or complete:
                held = (f"holds Python objects besides tensors ({', '.join(foreign[:4])}"
                        f"{', ...' if len(foreign) > 4 else ''})" if foreign else
                        f"is a pickle the safe reader cannot read ({_short(err)})")
                fix = (f"Only if you trust where it came from, pass {trust_hint}" if trust_hint
                       else "No file this suite writes needs that, so this is not one; it was not "
                            "read")
                raise UserError(
                    f"{what} {path!r} {held}; reading it needs full unpickling, which can run "
                    f"arbitrary code from the file. {fix}") from None
        raise UserError(f"{what} {path!r} is a damaged {'zip archive' if kind == 'zip' else 'pickle'}"
                        f" ({_short(err)}), not a readable PyTorch checkpoint; copy or download "
                        f"it again") from None
    except (RuntimeError, EOFError, ValueError, zipfile.BadZipFile) as err:
        # The reader's failures on a cut-off or corrupted file ("failed finding central
        # directory", EOFError, "invalid literal for int()" of a damaged header).
        raise UserError(f"{what} {path!r} is truncated or damaged ({_short(err)}), not a complete "
                        f"PyTorch checkpoint; copy or download it again") from None
