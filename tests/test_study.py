"""The trained study: intervals, verdicts chosen by the numbers, and a quick end-to-end run that
is resumed without recomputing anything."""
from __future__ import annotations

import json
import math
import time

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from helpers import file_times

from analysis.intervals import compare, interval
from analysis.study import TINY, TINY_DISCRIMINATOR
from experiments import study
from experiments.study import PROFILES
from experiments.study_report import Results, findings, verdicts
from vasis_suite.cli import main


# ----------------------------------------------------------------------------- intervals
def test_interval_is_the_student_t_interval():
    iv = interval([1.0, 2.0, 3.0])
    half = stats.t.ppf(0.975, 2) * 1.0 / math.sqrt(3)
    assert iv.n == 3 and iv.mean == pytest.approx(2.0)
    assert (iv.lo, iv.hi) == pytest.approx((2.0 - half, 2.0 + half))
    assert half == pytest.approx(2.4841, abs=1e-4)           # t(0.975, 2) = 4.3027
    assert interval(["n/a (no weights)", 5.0]).n == 1         # text cells are left out
    assert not interval([5.0]).known and interval([]).n == 0


def test_compare_needs_disjoint_intervals():
    lo, mid, hi = interval([0.0, 0.1, 0.2]), interval([0.15, 0.25, 0.35]), interval([5, 5.1, 5.2])
    assert compare(hi, lo) == "above" and compare(lo, hi) == "below"
    assert compare(lo, mid) == "overlap"
    assert compare(hi, 1.0) == "above" and compare(lo, 1.0) == "below"
    assert compare(interval([1.0]), lo) == "one seed"
    assert compare(interval([]), lo) == "missing"


# ----------------------------------------------------------------------------- verdicts
def _cells(values: dict, seeds=(0, 1, 2)) -> pd.DataFrame:
    """Cells of a study: values[(model, metric)] = per-seed list or a constant."""
    prof = PROFILES["quick"]
    rows = []
    for (model, metric), v in values.items():
        for k, seed in enumerate(seeds):
            val = v[k] if isinstance(v, (list, tuple)) else v
            if model == "data":
                rows.append(dict(seed=seed, model="data", setting="real", step=np.nan,
                                 metric=metric, value=val))
            else:
                rows.append(dict(seed=seed, model=model, setting="original",
                                 step=float(prof.scale.iters), metric=metric, value=val))
    return pd.DataFrame(rows)


def _verdict(v: pd.DataFrame, claim: str) -> list[str]:
    return list(v[v.claim == claim].verdict)


def test_verdicts_follow_the_numbers():
    prof = PROFILES["quick"].with_(models=("spade", "va-spade"), table1=())
    common = {("data", "mIoU"): 90.0, ("data", "near_excess"): 0.05,
              ("spade", "mIoU"): [80, 81, 82], ("va-spade", "mIoU"): [80, 82, 81],
              ("spade", "texture_repetition"): [0.9, 0.92, 0.91],
              ("data", "texture_repetition"): 0.01,
              ("spade", "near_excess"): [0.30, 0.32, 0.31]}
    raised = {**common, ("spade", "intra_std"): [0.01, 0.011, 0.012],
              ("va-spade", "intra_std"): [0.05, 0.052, 0.051],
              ("va-spade", "texture_repetition"): [0.1, 0.12, 0.11]}
    v = verdicts(Results(_cells(raised), prof))
    assert _verdict(v, "VA raises within-image intra-class variation") == ["holds"]
    assert _verdict(v, "VA breaks the repetition") == ["holds"]
    assert _verdict(v, "baseline pattern repeats with the boundary") == ["holds"]
    assert _verdict(v, "baseline variation sits at class boundaries") == ["holds"]
    assert _verdict(v, "reproduces the classes") == ["holds", "holds"]   # 80 >= 0.8 * 90
    assert _verdict(v, "VA does not hurt FID / mIoU") == ["holds"]
    text = "\n".join(findings(v))
    assert "**VA raises within-image intra-class variation: holds**" in text

    # the same claims with the numbers turned around are reported as failing
    lowered = {**common, ("spade", "intra_std"): [0.05, 0.052, 0.051],
               ("va-spade", "intra_std"): [0.01, 0.011, 0.012],
               ("va-spade", "texture_repetition"): [0.9, 0.93, 0.95],
               ("va-spade", "mIoU"): [40, 41, 42],
               ("spade", "texture_repetition"): [0.0, 0.01, 0.02]}
    v = verdicts(Results(_cells(lowered), prof))
    assert _verdict(v, "VA raises within-image intra-class variation") == ["does not hold"]
    assert _verdict(v, "VA breaks the repetition") == ["does not hold"]
    assert _verdict(v, "baseline pattern repeats with the boundary") == ["does not hold"]
    assert _verdict(v, "VA does not hurt FID / mIoU") == ["does not hold"]
    assert _verdict(v, "reproduces the classes") == ["holds", "does not hold"]
    text = "\n".join(findings(v))
    assert "**VA raises within-image intra-class variation: does not hold**" in text
    assert "**reproduces the classes: holds for 1 of 2** (not for VA-SPADE (does not hold))" in text


def test_one_seed_is_marked_and_uses_the_means():
    prof = PROFILES["quick"].with_(models=("spade", "va-spade"), table1=(), seeds=(0,))
    values = {("data", "mIoU"): 90.0, ("spade", "intra_std"): 0.01, ("va-spade", "intra_std"): 0.05,
              ("spade", "mIoU"): 80.0, ("va-spade", "mIoU"): 78.0}
    v = verdicts(Results(_cells(values, seeds=(0,)), prof))
    assert _verdict(v, "VA raises within-image intra-class variation") == ["holds (one seed)"]
    # 2 points lower with one seed is within the tolerance; 10 points is not
    assert _verdict(v, "VA does not hurt FID / mIoU") == ["holds (one seed)"]
    values[("va-spade", "mIoU")] = 70.0
    v = verdicts(Results(_cells(values, seeds=(0,)), prof))
    assert _verdict(v, "VA does not hurt FID / mIoU") == ["does not hold (one seed)"]
    assert "**VA does not hurt FID / mIoU: does not hold (one seed)**" in "\n".join(findings(v))


# ----------------------------------------------------------------------------- end to end
def test_quick_study_runs_and_resumes(tmp_path, capsys, monkeypatch):
    out = tmp_path / "study"
    argv = ["study", "--profile", "quick", "--out", str(out), "--no-table1", "--no-progress",
            "--quiet"]
    seed_free = []
    own = study.Evaluation._seed_free
    monkeypatch.setattr(study.Evaluation, "_seed_free",
                        lambda self: seed_free.append(self.ctx.seed) or own(self))
    assert main(argv) == 0
    assert seed_free == [0]           # the data's seed-free numbers: once for both seeds
    for name in ("study.md", "study_cells.csv", "study_summary.csv", "study_verdicts.csv",
                 "study_curves.png", "study_profile.png", "study_samples.png",
                 "study_repetition.png"):
        assert (out / name).is_file(), name
    cells = pd.read_csv(out / "study_cells.csv")
    prof = PROFILES["quick"]
    spade = cells[(cells.model == "spade") & (cells.setting == "original")]
    assert set(spade.seed) == set(prof.seeds)
    assert set(spade.step) == {1.0, 2.0}                       # the learning curve's points
    final = spade[spade.step == 2.0]
    assert {"FID-v", "mIoU", "Acc", "intra_std", "sample_std", "near_fraction", "repetition",
            "texture_repetition",
            "inter_std", "precision", "coverage"} <= set(final.metric)
    # Table 1's rows are left out here (tests/test_main_study_part.py runs the whole quick study)
    assert not cells.setting.str.contains(":").any()
    verdict = pd.read_csv(out / "study_verdicts.csv")
    assert {"VA breaks the repetition", "reproduces the classes"} <= set(verdict.claim)
    assert "conv-k1 wrecks the model" not in set(verdict.claim)
    report = (out / "study.md").read_text()
    assert "## Verdicts on the paper's claims" in report
    # SPADE has no noise input: one layout gives one image
    sample = final[final.metric == "sample_std"].value.astype(float)
    assert (sample == 0).all()
    data = cells[(cells.model == "data") & cells.metric.isin(["mIoU", "FID-v", "intra_std"])]
    assert sorted(set(data.seed)) == [0, 1] and (data.groupby("metric").value.nunique() == 1).all()

    # a rerun trains nothing and computes no cell: runs and results files stay as they were
    kept = {k: v for k, v in file_times(out).items() if "runs/" in k or k.endswith("results.json")}
    assert main(argv) == 0
    now = file_times(out)
    assert {k: now[k] for k in kept} == kept
    assert json.loads((out / "seed0" / "results.json").read_text())["cells"]


def test_measure_takes_sample_zero_for_the_quality_cells(tmp_path):
    """measure() hands its first sample to Context.quality instead of generating again: those
    images must be the ones quality would have made (VA-SPADE draws noise, so another draw
    would change ICV-one)."""
    import torch
    import vasis
    prof = PROFILES["quick"]
    ctx = study.contexts(prof, tmp_path, log=lambda *a: None)[0]
    torch.manual_seed(0)
    gen = vasis.build_generator("va-spade", "scenes", height=64, width=64, **TINY).eval()
    ev = study.Evaluation(ctx, prof)
    measured = ev.measure(gen, ["ICV-one"])["ICV-one"]
    assert measured == ctx.quality(gen, ["ICV-one"])["ICV-one"]
    other = ctx.generate(gen, ev.labels, ev.instance, seed=ctx.seed + 1)
    assert ctx.quality(gen, ["ICV-one"], fake=other)["ICV-one"] != measured


def test_training_runs_in_workers_and_stops_on_request(tmp_path):
    """Training(jobs > 1) starts its runs in worker processes at once (the main job probes
    meanwhile) and wait() collects them; stop() ends the workers of a started one."""
    from vasis.train import list_checkpoints
    prof = PROFILES["quick"].with_(seeds=(0,), models=("spade",), table1=(), jobs=2)
    ctxs = study.contexts(prof, tmp_path / "a", log=lambda *a: None)
    logged = []
    training = study.Training(prof, ctxs, 2, logged.append)
    assert training.pool is not None and len(training.work) == 1
    training.wait(progress=False)
    assert training.pool is None and list_checkpoints(ctxs[0].run_dir("spade"))
    assert len(logged) == 1 and "spade: trained to step 2" in logged[0]

    # a run of minutes, ended at once
    long = prof.with_(iters=5000)
    ctxs = study.contexts(long, tmp_path / "b", log=lambda *a: None)
    training = study.Training(long, ctxs, 2, logged.append)
    workers = list(training.pool._processes.values())
    try:
        assert workers and all(proc.is_alive() for proc in workers)
        start = time.monotonic()
        training.stop()
        assert time.monotonic() - start < 20
        assert not any(proc.is_alive() for proc in workers) and training.pool is None
    finally:   # a failing stop() must not leave a run of minutes behind
        for proc in workers:
            proc.kill()


def test_study_runs_on_a_real_dataset(coco_sample, tmp_path):
    """The real-dataset path (--dataset/--dataroot, as the gpu profile runs Cityscapes): the
    label space's classes, COCO-Stuff's class 0 a class and not 'unlabeled', per-class cells
    only for the classes the maps show, and no segmenter given -> mIoU n/a, not a crash."""
    out = tmp_path / "study"
    argv = ["study", "--profile", "quick", "--dataset", "coco-stuff", "--dataroot",
            str(coco_sample), "--seeds", "0", "--models", "spade", "--no-table1", "--out",
            str(out), "--no-progress", "--quiet"]
    assert main(argv) == 0
    cells = pd.read_csv(out / "study_cells.csv")
    data = cells[cells.model == "data"].set_index("metric").value
    assert 0 < float(data["intra_std"]) < 1 and 0 < float(data["near_fraction"]) <= 1
    per_class = [m.split(":", 1)[1] for m in data.index if m.startswith("intra_std:")]
    assert 0 < len(per_class) < 182 and "unlabeled" not in per_class
    assert all(math.isfinite(float(data[f"intra_std:{c}"])) for c in per_class)
    assert str(data["mIoU"]).startswith("n/a (no segmenter for coco-stuff")
    assert "reproduces the classes: missing" in (out / "study.md").read_text()


def test_gpu_profile_trains_and_measures_oasis(tmp_path):
    """The gpu profile's OASIS rows run through the same study code (here at tiny widths,
    64x64, 2 iterations, one seed): OASIS's 3D noise makes its samples of one layout differ."""
    prof = PROFILES["gpu"].with_(
        iters=2, ckpt_every=1, keep=3, size=(64, 64), generator=dict(TINY),
        discriminator=dict(TINY_DISCRIMINATOR), n_train=8, batch_size=2, eval_images=4,
        samples=2, seg_steps=5, seg_images=8, seeds=(0,), models=("oasis",), table1=(), jobs=1)
    assert "oasis" in PROFILES["gpu"].models and "va-oasis" in PROFILES["gpu"].models
    ctxs = study.contexts(prof, tmp_path, log=lambda *a: None)
    study.run_profile(prof, ctxs, progress=False, log=lambda *a: None)
    cells = study.cells(ctxs)
    final = cells[(cells.model == "oasis") & (cells.step == 2)].set_index("metric").value
    assert float(final["sample_std"]) > 0 and math.isfinite(float(final["FID-v"]))
    assert set(cells[cells.model == "oasis"].step) == {1.0, 2.0}
