"""CPU settings of the analysis jobs."""
from __future__ import annotations

from contextlib import contextmanager

import torch


@contextmanager
def fast_cpu():
    """Run torch on one thread with denormal floats flushed to zero; restored afterwards.

    Some feature channels of untrained generators decay to denormal values (~1e-40), and x86
    CPUs compute with those up to 50x slower. ``torch.set_flush_denormal`` sets the flag of the
    calling thread only (worker threads may not inherit it), so the job runs torch on one
    thread. Values below ~1e-38 become 0; no statistic here can tell.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)
        torch.set_num_threads(threads)
