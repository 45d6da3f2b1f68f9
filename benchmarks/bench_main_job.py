"""The main job's training part on one thread vs on every core, side by side in one process.

The main job (``run_analysis.py``) probes untrained generators on one thread (their features
decay to denormals, and the flush-to-zero flag is per thread: see ``analysis.cpu``), then trains
SPADE and VA-SPADE at the main job's settings (``analysis.trained.TrainConfig``). This script
trains both for ``--iters`` iterations inside ``analysis.cpu.fast_cpu`` twice - once on one
thread (how the job trained before) and once inside ``analysis.cpu.all_cores`` (how it trains
now) - into temporary folders, and prints seconds and the ratio.

Run: ``.venv/bin/python benchmarks/bench_main_job.py [--iters 40]``.
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
from analysis.runs import train_or_reuse  # noqa: E402
from analysis.trained import TrainConfig  # noqa: E402


def timed_training(tcfg: TrainConfig, threads_context, root: Path) -> dict[str, float]:
    out = {}
    with fast_cpu(), threads_context():
        for model in tcfg.models:
            start = time.perf_counter()
            train_or_reuse(tcfg.settings(model, seed=0), root / model, progress=False)
            out[model] = time.perf_counter() - start
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--iters", type=int, default=40)
    args = p.parse_args(argv)
    tcfg = TrainConfig(iters=args.iters, ckpt_every=args.iters)
    with tempfile.TemporaryDirectory() as tmp:
        one = timed_training(tcfg, contextlib.nullcontext, Path(tmp) / "one")
        every = timed_training(tcfg, all_cores, Path(tmp) / "all")
    print(f"main-job training part, {args.iters} iterations per model; seconds; "
          f"ratio = one thread / {DEFAULT_THREADS} threads")
    print(f"{'model':<10}{'1 thread':>10}{f'{DEFAULT_THREADS} threads':>12}{'ratio':>8}")
    for model in tcfg.models:
        print(f"{model:<10}{one[model]:>10.1f}{every[model]:>12.1f}{one[model] / every[model]:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
