import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("VASIS_SHARED", ROOT.parent / "shared"))
COCO_SAMPLE = SHARED / "data" / "coco_stuff_sample"

# The suite's caches (converted FID weights, reference statistics) go to a folder of this test
# session, never into the user's ~/.cache; subprocesses inherit it.
os.environ["VASIS_CACHE"] = tempfile.mkdtemp(prefix="vasis-test-cache-")
atexit.register(shutil.rmtree, os.environ["VASIS_CACHE"], True)

# One thread with denormals flushed: untrained nets decay to denormal floats that x86 computes
# up to 50x slower, and the flag is per thread (see analysis.cpu.fast_cpu).
torch.set_num_threads(1)
torch.set_flush_denormal(True)

# Tiny widths keep every test on a 2-core CPU; the architecture is otherwise the preset's.
from analysis.study import TINY  # noqa: E402,F401  (spelled once, in analysis.study)


@pytest.fixture
def coco_sample():
    if not COCO_SAMPLE.is_dir():
        pytest.skip(f"real COCO-Stuff sample not found at {COCO_SAMPLE} (needs ../shared beside the checkout)")
    return COCO_SAMPLE
