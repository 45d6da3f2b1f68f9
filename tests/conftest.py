import os
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("VASIS_SHARED", ROOT.parent / "shared"))
COCO_SAMPLE = SHARED / "data" / "coco_stuff_sample"

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

# Tiny widths keep every test on a 2-core CPU; the architecture is otherwise the preset's.
TINY = {"ngf": 4, "hidden": 8}


@pytest.fixture
def coco_sample():
    if not COCO_SAMPLE.is_dir():
        pytest.skip(f"real COCO-Stuff sample not found at {COCO_SAMPLE} (needs ../shared beside the checkout)")
    return COCO_SAMPLE
