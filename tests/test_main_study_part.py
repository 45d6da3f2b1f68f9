"""The main job's trained part (``experiments.study_main.TrainedPart``) at the study's quick
profile: the report section, reuse of the runs and cells, the full study's results when present,
``--no-train`` / ``--train-iters``; and the statistics of ``analysis.trained`` against
``analysis.metrics``."""
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import every, file_times

from analysis import metrics
from analysis.main_job import JobConfig, run_job
from analysis.study import TINY
from analysis.trained import data_sample_std, heldout, source_statistics
from experiments.study import PROFILES
from experiments.study_main import FIGURES, TrainedPart
from vasis.data.scenes import _TEX
from vasis_suite.cli import main

HEADER = "## Trained models: the study's headline"


def _job(root, study_out, log):
    """The main job on CLADE only (the probes are not what this file tests) with the trained
    part at the quick profile: (result, report text, the part)."""
    part = TrainedPart(study_out, quick=True, log=log.append)
    part.check()
    out = root / "out"
    res = run_job(JobConfig(models=("clade",), samples=2, overrides=dict(TINY), out=out,
                            figures=root / "figs", progress=False, trained=part))
    return res, (out / "report.md").read_text(), part


def _section(report: str) -> str:
    assert HEADER in report
    return report.split(HEADER, 1)[1].split("\n## ", 1)[0]


def _kept(study_out) -> dict[str, int]:
    """What a run that computes nothing must leave as it was: the runs and the cells."""
    return {k: v for k, v in file_times(study_out).items()
            if k.startswith("runs/") or k.endswith("results.json")}


@pytest.fixture(scope="module")
def reduced_job(tmp_path_factory):
    """One main job into an empty study folder: the reduced study (seed 0, no Table 1)."""
    root = tmp_path_factory.mktemp("reduced")
    log = []
    res, report, part = _job(root, root / "study", log)
    return dict(root=root, study=root / "study", res=res, report=report, part=part, log=log,
                kept=_kept(root / "study"))


@pytest.fixture(scope="module")
def full_job(reduced_job, tmp_path_factory):
    """A copy of the reduced job's study folder completed by ``run_analysis.py study --profile
    quick`` (which must reuse the seed-0 runs), then the main job on it."""
    root = tmp_path_factory.mktemp("full")
    study = root / "study"
    shutil.copytree(reduced_job["study"], study)          # copy2: mtimes kept
    seed0_runs = {k: v for k, v in file_times(study).items() if k.startswith("runs/")}
    assert main(["study", "--profile", "quick", "--out", str(study), "--no-progress",
                 "--quiet"]) == 0
    after_study = _kept(study)
    log = []
    res, report, part = _job(root, study, log)
    return dict(study=study, seed0_runs=seed0_runs, after_study=after_study, res=res,
                report=report, part=part, log=log)


def test_reduced_study_section_figures_and_files(reduced_job):
    res, report, part = reduced_job["res"], reduced_job["report"], reduced_job["part"]
    full = PROFILES["quick"]
    assert not part.use_full and part.prof.seeds == (0,) and part.prof.table1 == ()
    # the reduced study trains into the full study's run folders, so `study` reuses them
    assert part.prof.scale == full.scale
    runs = reduced_job["study"] / "runs" / f"scenes-{full.scale.name}"
    assert sorted(p.name for p in runs.iterdir()) == sorted(full.models)
    trained = [ln.split(" in ")[0] for ln in reduced_job["log"] if "trained to step" in ln]
    assert sorted(trained) == [f"[seed 0] {m}: trained to step {full.scale.iters}"
                               for m in sorted(full.models)]
    assert any("segmenter" in ln for ln in reduced_job["log"])    # trained once, then reused

    section = _section(report)
    assert "the reduced study: seed 0 only, so no intervals" in section
    assert "adds seeds 1 and Table 1" in section
    # one sentence per claim, with the verdict of the verdicts file
    verdicts = pd.read_csv(reduced_job["study"] / "study_verdicts.csv")
    assert {"reproduces the classes", "VA breaks the repetition",
            "VA does not hurt FID / mIoU"} <= set(verdicts.claim)
    assert "conv-k1 wrecks the model" not in set(verdicts.claim)      # no Table 1 rows
    bullets = [ln for ln in section.splitlines() if ln.startswith("* **")]
    assert len(bullets) == verdicts.claim.nunique()
    for claim, g in verdicts.groupby("claim"):
        line = next(ln for ln in bullets if ln.startswith(f"* **{claim}: "))
        assert every(v in line or "holds for" in line for v in g.verdict)
    assert every("(one seed)" in v for v in verdicts.verdict)
    # the headline table: the data's row and one row per model, from one seed
    assert "| data | - |" in section
    for model in ("SPADE", "VA-SPADE"):
        assert f"| {model} | 1 |" in section
    # the four figures, in the job's figures folder and linked from the section
    for key in FIGURES:
        path = res["figures"][key]
        assert path.parent == reduced_job["root"] / "figs" and path.stat().st_size > 1000
        assert f"![{key}](../figs/{key}.png)" in section
    # the study's CSVs are the job's tables too, and its report is linked
    for name in ("study_cells.csv", "study_summary.csv", "study_verdicts.csv"):
        assert reduced_job["study"] / name in res["csv"]
    cells = pd.read_csv(reduced_job["study"] / "study_cells.csv")
    assert set(cells.seed) == {0} and set(cells.model) == {"data", *full.models}
    assert not cells.setting.str.startswith(("surgery:", "retrained:")).any()
    assert "[../study/study.md](../study/study.md)" in section
    assert (reduced_job["study"] / "study.md").is_file()


def test_second_main_job_reuses_runs_and_cells(reduced_job):
    log = []
    res, report, part = _job(reduced_job["root"], reduced_job["study"], log)
    assert not part.use_full
    assert _kept(reduced_job["study"]) == reduced_job["kept"]     # nothing trained or computed
    assert not [ln for ln in log if "trained" in ln or "segmenter" in ln], log
    assert _section(report).split("Full report")[0] == \
        _section(reduced_job["report"]).split("Full report")[0]


def test_complete_study_is_shown_and_nothing_computed(full_job):
    # `study` reused the reduced job's seed-0 runs (it trained seed 1 and Table 1's rows)
    now = file_times(full_job["study"])
    seed0 = f"runs/scenes-{PROFILES['quick'].scale.name}/"
    for model in PROFILES["quick"].models:
        assert any(k.startswith(f"{seed0}{model}/") for k in full_job["seed0_runs"]), model
    def runs(tree):     # the models' seed-0 runs (Table 1's retrained runs are new ones)
        return {k: v for k, v in tree.items()
                if k.startswith(seed0) and k.split("/")[2] in PROFILES["quick"].models}
    assert runs(now) == runs(full_job["seed0_runs"])
    part = full_job["part"]
    assert part.use_full and part.prof == PROFILES["quick"]
    # the main job computed nothing: runs and cells as `study` left them, nothing trained
    assert _kept(full_job["study"]) == full_job["after_study"]
    assert not [ln for ln in full_job["log"] if "trained" in ln or "segmenter" in ln]

    section = _section(full_job["report"])
    assert "the full study (2 seeds; values: mean [95% interval])" in section
    assert "reduced study" not in section and "(one seed)" not in section
    for model in ("SPADE", "VA-SPADE"):
        row = next(ln for ln in section.splitlines() if ln.startswith(f"| {model} | 2 |"))
        assert "[" in row and "]" in row                               # intervals
    cells = pd.read_csv(full_job["study"] / "study_cells.csv")
    assert set(cells[cells.setting.str.startswith("surgery:")].setting) == {
        "surgery:reflect", "surgery:norm-k1", "surgery:block-k1", "surgery:conv-k1"}
    assert set(cells[cells.setting.str.startswith("retrained:")].setting) == {
        "retrained:reflect", "retrained:conv-k1", "retrained:conv-k1-blocks"}
    verdicts = pd.read_csv(full_job["study"] / "study_verdicts.csv")
    assert "conv-k1 wrecks the model" in set(verdicts.claim)          # Table 1 on the trained
    assert "* **conv-k1 wrecks the model: " in section
    for key in FIGURES:
        assert full_job["res"]["figures"][key].stat().st_size > 1000


def test_no_train_skips_the_trained_part(tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["main", "--quick", "--models", "clade", "--no-train", "--no-progress",
               "--out", str(out)])
    printed = capsys.readouterr().out
    assert rc == 0 and "study_" not in printed
    assert not (out / "study").exists()
    report = (out / "report.md").read_text()
    assert "Skipped (`--no-train`)" in report and HEADER not in report
    assert not list((out / "figures").glob("study_*"))
    assert main(["main", "--quick", "--train-iters", "0", "--out", str(tmp_path / "x")]) == 2
    assert "--train-iters must be >= 1" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


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
