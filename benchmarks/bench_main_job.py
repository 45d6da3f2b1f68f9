"""The main job's training runs: in this process on every core vs two one-thread workers.

The main job's trained part (``experiments.study_main.TrainedPart``) trains the reduced study
of the cpu profile - one seed, every model, no Table 1 rows
(``experiments.study_main.reduced``) - with ``experiments.study.train_runs`` and the profile's
``jobs`` (2). This script trains those runs for ``--iters`` iterations into temporary folders
twice, and prints seconds per configuration and the ratio:

* ``jobs=1``: one run after the other in this process, inside ``analysis.cpu.fast_cpu`` and
  ``analysis.cpu.all_cores`` (how the job wraps its trained part: every core, denormals
  flushed);
* ``jobs=2``: two runs at once in spawned worker processes of one thread each (their start-up
  is counted: the job pays it too).

``--one-thread`` adds a third configuration: ``jobs=1`` inside ``fast_cpu`` only (one thread),
the reference of the ``all_cores`` speed-up that ``analysis/cpu.py`` states.

Run: ``PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_main_job.py [--iters 20]
[--one-thread]``. Timings depend on the machine's load: run ``uptime`` next to it.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from analysis.cpu import DEFAULT_THREADS, all_cores, fast_cpu  # noqa: E402
from experiments.study import PROFILES, contexts, train_runs  # noqa: E402
from experiments.study_main import reduced  # noqa: E402


def timed(prof, jobs: int, cores, root: Path) -> float:
    """Seconds to train every run of ``prof`` from scratch into ``root``."""
    ctxs = contexts(prof, root, log=lambda *a: None)
    start = time.perf_counter()
    with fast_cpu(), cores():
        train_runs(prof, ctxs, jobs, progress=False, log=lambda *a: None)
    return time.perf_counter() - start


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--iters", type=int, default=20, help="iterations per run (default 20)")
    p.add_argument("--one-thread", action="store_true",
                   help="also time jobs=1 on one thread (fast_cpu without all_cores)")
    args = p.parse_args(argv)
    prof = reduced(PROFILES["cpu"], 0, iters=args.iters)
    configs = [("jobs=1", 1, all_cores, f"in-process, {DEFAULT_THREADS} threads"),
               ("jobs=2", 2, contextlib.nullcontext, "2 workers x 1 thread")]
    if args.one_thread:
        configs.append(("jobs=1 (1 thread)", 1, contextlib.nullcontext, "in-process, 1 thread"))
    seconds = {}
    with tempfile.TemporaryDirectory() as tmp:
        for k, (name, jobs, cores, _) in enumerate(configs):
            seconds[name] = timed(prof, jobs, cores, Path(tmp) / str(k))   # nothing reused
    runs = len(prof.models) * len(prof.seeds)
    print(f"main job's training runs: {runs} runs ({', '.join(prof.models)}) of the reduced cpu "
          f"profile, {args.iters} iterations each, from scratch; seconds")
    ref = seconds["jobs=1"]
    print(f"{'configuration':<20}{'how':<26}{'seconds':>9}{'jobs=1 / this':>15}")
    for name, _, _, how in configs:
        print(f"{name:<20}{how:<26}{seconds[name]:>9.1f}{ref / seconds[name]:>15.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
