"""The training part of the main job (``analysis.trained``) at a tiny budget: CSV and report
fields, reuse / resume of the runs, the statistics against ``analysis.metrics``."""
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from analysis import metrics
from analysis.cpu import fast_cpu
from analysis.main_job import JobConfig, run_job
from analysis.runs import train_or_reuse
from analysis.study import TINY
from analysis.trained import data_sample_std, heldout, quick_config, source_statistics
from vasis_suite.cli import main
from vasis.data.scenes import _TEX
from vasis.metrics.fid_weights import default_weights_path, fid_helper_torchscript
from vasis.train import load_latest


def _job(out, iters=2):
    return JobConfig(models=("clade",), samples=2, overrides=dict(TINY), out=out,
                     figures=out / "figs", progress=False, train=quick_config(iters))


def test_training_part_tables_report_and_resume(tmp_path):
    out = tmp_path / "out"
    res = run_job(_job(out))
    assert {m: r["status"] for m, r in res["trained"]["runs"].items()} == \
        {"spade": "trained", "va-spade": "trained"}

    t = pd.read_csv(out / "trained_variation.csv")
    assert {"source", "class_id", "class_name", "images", "intra_std", "sample_std",
            "near_fraction", "area_fraction"} <= set(t.columns)
    assert set(t.source) == {"data", "spade", "va-spade"}
    for col in ("intra_std", "sample_std", "near_fraction", "area_fraction"):
        assert np.isfinite(t[col]).all(), col
    assert ((t.near_fraction >= -1e-9) & (t.near_fraction <= 1 + 1e-9)).all()
    assert (t[t.source == "spade"].sample_std == 0).all()       # no noise input
    assert (t[t.source == "va-spade"].sample_std > 0).all()     # semantic noise
    assert (t[t.source == "data"].sample_std > 0.02).all()      # at least the texture noise

    s = pd.read_csv(out / "trained_summary.csv")
    assert {"source", "step", "colour_error", "inter_std", "intra_std", "sample_std",
            "near_fraction"} <= set(s.columns)
    main_rows = s[s.source.isin(["data", "SPADE", "VA-SPADE"])]
    assert len(main_rows) == 3
    assert np.isfinite(main_rows[["colour_error", "inter_std", "intra_std", "sample_std",
                                  "near_fraction"]].to_numpy()).all()
    assert set(s[s.source.isin(["SPADE", "VA-SPADE"])].step) == {2}

    p = pd.read_csv(out / "trained_profiles.csv")
    assert {"source", "class_name", "d", "variance_fraction", "area_fraction"} <= set(p.columns)
    assert np.isfinite(p[p.source == "data"].variance_fraction).all()

    report = (out / "report.md").read_text()
    assert "## Trained briefly" in report and "What the numbers show" in report
    for name in ("trained_variation.png", "trained_samples.png"):
        assert (out / "figs" / name).stat().st_size > 1000 and name in report
    assert "trained_variation.csv" in report and "**2 iterations**" in report

    # FID (and PRDC where N allows) of both models and of other real scenes, equal N, labelled
    q = pd.read_csv(out / "trained_fid.csv")
    assert list(q.source) == ["data (other scenes)", "SPADE", "VA-SPADE"]
    assert (q.n_real == q.n_generated).all() and (q.n_real == 4).all()
    if fid_helper_torchscript() is not None or default_weights_path().is_file():
        assert np.isfinite(q.FID.astype(float)).all() and (q.FID.astype(float) > 0).all()
        assert q.weights.nunique() == 1 and str(q.weights[0]) in report
    assert "### Image quality" in report and "biased upward" in report and "N = 4 per side" in report

    # a complete run is reused; a longer budget resumes from the last checkpoint ...
    assert {r["status"] for r in run_job(_job(out))["trained"]["runs"].values()} == {"reused"}
    again = run_job(_job(out, iters=3))["trained"]["runs"]
    assert {(r["status"], r["from_step"], r["step"]) for r in again.values()} == {("resumed", 2, 3)}
    # ... and gives the networks of an uninterrupted 3-iteration run
    with fast_cpu():
        fresh = train_or_reuse(quick_config(3).settings("va-spade", 0), tmp_path / "fresh",
                               progress=False)
    assert fresh["status"] == "trained"
    a = load_latest(out / "train" / "va-spade")[1]["generator"]
    b = load_latest(tmp_path / "fresh")[1]["generator"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    # other settings replace the run; a foreign folder is refused
    with fast_cpu():
        other = train_or_reuse(quick_config(1).settings("va-spade", 0), tmp_path / "fresh",
                               progress=False)
    assert other["status"] == "retrained" and other["step"] == 1
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        train_or_reuse(quick_config(1).settings("spade", 0), tmp_path / "foreign")


def test_statistics_match_the_metrics():
    labels, real, scenes = heldout(2, seed=1)
    imgs = (real.numpy()[None] + 1) / 2
    st = source_statistics(imgs, labels.numpy(), distance=4,
                           sample_map=np.stack([data_sample_std(s) for s in scenes]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # classes absent from both maps
        want = np.nanmean([[metrics.fraction_within(imgs[0, i], labels[i], 4).get(c, np.nan)
                            if (labels[i] == c).sum() >= 64 else np.nan for c in range(7)]
                           for i in range(2)], 0)
    assert np.allclose(st["near"][1:], want[1:], equal_nan=True)
    inter = np.mean([metrics.inter_class_std(imgs[0, i], labels[i]) for i in range(2)])
    assert st["inter"] == pytest.approx(inter)
    # the design's std of a new photo of the layout is at least the texture noise

    sd = data_sample_std(scenes[0])
    assert (sd >= _TEX[scenes[0]["label"]] - 1e-12).all() and (sd < 0.2).all()


def test_no_train_skips_the_training_part(tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["main", "--models", "clade", "--samples", "2", "--no-train", "--no-progress",
               "--out", str(out)])
    assert rc == 0 and "trained:" not in capsys.readouterr().out
    assert not (out / "train").exists() and not (out / "trained_variation.csv").exists()
    assert "Skipped (`--no-train`)" in (out / "report.md").read_text()
    assert main(["main", "--quick", "--train-iters", "0", "--out", str(tmp_path / "x")]) == 2
    assert "--train-iters must be >= 1" in capsys.readouterr().err
