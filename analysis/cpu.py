"""CPU settings of the analysis jobs."""
from __future__ import annotations

from contextlib import contextmanager

import torch

# torch's thread count when the suite was imported (its default: the machine's cores, unless the
# caller had already chosen), which the training part of a job goes back to.
DEFAULT_THREADS = torch.get_num_threads()


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


@contextmanager
def all_cores():
    """Inside :func:`fast_cpu`, run a block on :data:`DEFAULT_THREADS` threads; restored afterwards.

    For the jobs' work on trained networks (training in this process, the trained study's
    measurements): they do not decay to denormals the way the untrained probes do, so the
    single-thread rule is not needed there. On an idle 2-core machine two threads trained the
    earlier main job's runs 1.1-1.7x faster than one; on a busy machine two threads of one
    process are several times slower than one (README, Benchmarks: ``bench_main_job.py``), which
    is why the study trains in one-thread worker processes. Results differ from a one-thread run
    at rounding level (the order of the sums in a conv).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(DEFAULT_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
