"""The suite's user-facing error types.

A :class:`UserError` means the input was wrong (a bad name, size, file or id): the command line
prints its message as one ``error:`` line and exits with code 2. Any other exception is a bug
in the suite and keeps its traceback. The classes also derive from the built-in type a library
caller would expect (``ValueError``, ``FileNotFoundError``, ``FileExistsError``), so code that
catches those keeps working.
"""
from __future__ import annotations

__all__ = ["UserError", "MissingFileError", "ExistsError"]


class UserError(ValueError):
    """Bad input: the message names the value and the fix."""


class MissingFileError(UserError, FileNotFoundError):
    """A file or folder the user named does not exist."""


class ExistsError(UserError, FileExistsError):
    """An output the user named already exists and would be overwritten."""
