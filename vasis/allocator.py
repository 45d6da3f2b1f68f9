"""The C allocator's handling of freed memory, for the suite's commands.

torch's CPU tensors come from the C library's ``malloc``. glibc's default gives large freed
blocks back to the operating system (``munmap``, heap trimming), so the next tensor of that size
is mapped again and every one of its pages is faulted in and zeroed on first touch
(docs/speed.md has what that costs a training iteration). :func:`keep_freed_memory` asks glibc
to keep freed memory for reuse instead, as PyTorch's CPU tuning guide suggests with jemalloc /
tcmalloc; the price is a resident size that stays at its peak until the process ends. It
changes no computed value.
"""
from __future__ import annotations

import ctypes
import os

# mallopt parameters (malloc.h) and the environment variables glibc reads at start-up
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_MAX = 32 * 2 ** 20        # glibc's ceiling for the mmap threshold on 64-bit systems
_TRIM = 2 ** 31 - 1          # (mallopt takes a C int): trim only past 2 GiB free
_ENV = {"MALLOC_TRIM_THRESHOLD_": str(_TRIM), "MALLOC_MMAP_THRESHOLD_": str(_MMAP_MAX)}


def keep_freed_memory() -> bool:
    """Keep freed heap memory for reuse: no trimming, and blocks up to 32 MiB from the heap
    instead of fresh mappings; for this process (``mallopt``) and the processes it starts (the
    environment variables glibc reads). A variable the user set is left as it is. False where
    the C library is not glibc (nothing changed)."""
    try:   # the symbols already loaded into this process (find_library would run ldconfig)
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    for key, value in _ENV.items():
        if key not in os.environ:
            param = _M_TRIM_THRESHOLD if key.startswith("MALLOC_TRIM") else _M_MMAP_THRESHOLD
            if mallopt(param, int(value)) == 1:      # 1: taken
                os.environ[key] = value
    return True
