"""FID feature extraction, images/s: the suite (``vasis.metrics.fid.inception_activations`` on a
folder) vs pytorch-fid's ``get_activations`` on the same files with the same weights, in this
process, at the same torch thread count.

The folder: ``--folder PATH`` (flat, one image size) or ``--n`` scenes written as PNGs to a
temporary folder. The weights: the suite's default sources (see docs/evaluation.md), handed to
pytorch-fid as its own file in a temporary torch hub cache (the unused classifier zero-filled);
without any source, random weights in pytorch-fid's layout (the speed does not depend on them).
Each side runs ``--reps`` times, alternating, after one warm-up batch each; the best run counts.
Run: ``.venv/bin/python benchmarks/bench_fid_features.py``.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vasis.data import SceneDataset  # noqa: E402
from vasis.metrics import fid  # noqa: E402
from vasis.metrics.fid import to_uint8  # noqa: E402
from vasis.metrics.fid_weights import resolve_weights  # noqa: E402


def scene_folder(root: Path, n: int, size: int) -> list[Path]:
    ds = SceneDataset(n, size=(size, size), split="val")
    files = []
    for i in range(n):
        files.append(root / f"{i:04d}.png")
        Image.fromarray(to_uint8(ds[i]["image"][None])[0]).save(files[-1])
    return files


def weights_state() -> tuple[dict, str]:
    try:
        state, info = resolve_weights()
        state = dict(state)
        label = info.label
    except FileNotFoundError:
        # local: torchvision is heavy; only the no-weights fallback needs it
        import torchvision
        net = torchvision.models.inception_v3(weights=None, aux_logits=False, num_classes=1008,
                                              init_weights=False)
        state, label = net.state_dict(), "random (no FID weights found)"
    state.setdefault("fc.weight", torch.zeros(1008, 2048))
    state.setdefault("fc.bias", torch.zeros(1008))
    return state, label


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--folder", default=None, help="image folder (default: --n scenes as PNG)")
    p.add_argument("--n", type=int, default=40)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=10)
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--workers", type=int, default=1,
                   help="pytorch-fid DataLoader workers (default 1, get_activations' default)")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    warnings.simplefilter("ignore")
    # local: heavy (torchvision); after the warnings filter above, so its import warnings stay quiet
    from pytorch_fid import fid_score
    from pytorch_fid.inception import InceptionV3


    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if a.folder:
            files = sorted(p for p in Path(a.folder).iterdir()
                           if p.suffix.lower() in fid.IMAGE_EXTENSIONS)
        else:
            (tmp / "images").mkdir()
            files = scene_folder(tmp / "images", a.n, a.size)
        state, label = weights_state()
        hub = tmp / "torch" / "hub" / "checkpoints"
        hub.mkdir(parents=True)
        torch.save(state, hub / fid.FID_WEIGHTS_NAME)
        os.environ["TORCH_HOME"] = str(tmp / "torch")   # pytorch-fid finds its file there
        ours = fid.load_fid_inception(hub / fid.FID_WEIGHTS_NAME)
        theirs = InceptionV3([3]).eval()
        print(f"{len(files)} images ({a.folder or f'scenes {a.size}x{a.size} PNG'}), batch "
              f"{a.batch_size}, torch threads {torch.get_num_threads()}, pytorch-fid workers "
              f"{a.workers}; weights: {label}")

        def run_ours(fs):
            return fid.inception_activations(fs, ours, a.batch_size, "cpu")

        def run_theirs(fs):
            return fid_score.get_activations(fs, theirs, a.batch_size, 2048, "cpu", a.workers)

        run_ours(files[:a.batch_size])
        run_theirs(files[:a.batch_size])
        best = {"suite": float("inf"), "pytorch-fid": float("inf")}
        feats = {}
        for _ in range(a.reps):
            for name, fn in (("pytorch-fid", run_theirs), ("suite", run_ours)):
                t = time.perf_counter()
                feats[name] = fn(files)
                best[name] = min(best[name], time.perf_counter() - t)
        diff = float(np.abs(feats["suite"] - feats["pytorch-fid"]).max())
        for name, sec in best.items():
            print(f"{name:<12} {len(files) / sec:7.2f} images/s  ({sec:.1f} s)")
        print(f"suite / pytorch-fid speed: {best['pytorch-fid'] / best['suite']:.2f}x; "
              f"max |feature difference| {diff:.2e}")


if __name__ == "__main__":
    main()
