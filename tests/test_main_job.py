"""The main analysis job at a reduced setting (``--quick``: three models at tiny widths)."""
import io
from contextlib import redirect_stdout

import pandas as pd
import pytest
from helpers import every

from analysis.structure import claim_findings, kernel_findings
from vasis_suite.cli import main


def run_quick(root):
    """``main --quick`` into ``root``/out and ``root``/figs: (rc, printed, out, figs)."""
    out, figs = root / "out", root / "figs"
    printed = io.StringIO()
    with redirect_stdout(printed):
        rc = main(["main", "--quick", "--no-progress", "--out", str(out), "--figures", str(figs)])
    return rc, printed.getvalue(), out, figs


@pytest.fixture(scope="module")
def quick_job(tmp_path_factory):
    return run_quick(tmp_path_factory.mktemp("quick-a"))


def test_quick_main_job(quick_job):
    rc, printed, out, figs = quick_job
    assert rc == 0
    assert str(out / "report.md") in printed and str(figs) in printed
    report = (out / "report.md").read_text()
    for name in ("fig2_block_std.png", "block_sample_std.png", "layouts.png",
                 "generated_images.png", "boundary_profiles.png",  # the study's quick profile:
                 "study_curves.png", "study_profile.png", "study_samples.png",
                 "study_repetition.png"):
        assert (figs / name).stat().st_size > 1000
        assert name in report
    assert "untrained" in report and "docs/main-job.md" in report
    for name in ("block_stats.csv", "block_summary.csv", "profiles.csv", "variation.csv",
                 "kernel_effect.csv", "claims.csv", "study/study_cells.csv",
                 "study/study_summary.csv", "study/study_verdicts.csv"):
        assert (out / name).is_file() and str(out / name) in printed   # the printed tables
    assert "## Trained models: the study's headline" in report and "reduced study" in report
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left

    claims = pd.read_csv(out / "claims.csv")
    assert every(claims.holds), claims
    assert set(claims.model) == {"spade", "clade", "va-clade"}
    s = pd.read_csv(out / "block_summary.csv")
    one = s[s.layout == "one-class"]
    # reflect + one class: every block of the baselines is flat; zero padding is not
    base = one[one.model.isin(["spade", "clade"])]
    assert every(base[base.padding == "reflect"].rel_spatial < 1e-5)
    assert every(base[base.padding == "zero"].rel_spatial > 1e-3)
    # the VA model varies in every residual block, any setting, across space and samples
    va = one[(one.model == "va-clade") & (one.block != "fc")]
    assert every(va.rel_spatial > 1e-3) and every(va.rel_sample > 1e-3)
    # zero padding: at fc all the variation sits within 1 px of the edge (interior flat)
    p = pd.read_csv(out / "profiles.csv")
    fc = p[(p.block == "fc") & (p.layout == "one-class") & (p.padding == "zero") & (p.d_high == 2)]
    assert every(fc.cum_variance_fraction > 0.999) and every(fc.cum_area_fraction < 0.8)
    stats = pd.read_csv(out / "block_stats.csv")
    assert {"model", "dataset", "layout", "padding", "kernel", "samples", "block", "kind",
            "statistic", "class", "class_name", "channel", "value"} <= set(stats.columns)

    # The kernel table has both swaps for every model; CLADE changes only with the residual one.
    k = pd.read_csv(out / "kernel_effect.csv")
    assert set(k.swap) == {"norm", "block"}
    assert set(k[k.swap == "block"].model) == {"spade", "clade", "va-clade"}
    res = k[k.block_index >= 1]
    clade = res[res.model == "clade"]
    assert every(clade[clade.swap == "norm"]["diff"] == 0)
    assert every(clade[(clade.swap == "block") & (clade.layout == "two-class")]["diff"] > 1e-2)
    assert "residual convs" in report and "`swap_block_kernel`" in report


def test_same_seed_gives_byte_identical_csv_files(quick_job, tmp_path):
    """A second run (same seed, its own folders: nothing reused, the trained part trains and
    measures the reduced study again) writes every CSV file byte for byte as the first."""
    rc, _, out, _ = run_quick(tmp_path)
    assert rc == 0 and quick_job[0] == 0
    first = sorted(p.relative_to(quick_job[2]) for p in quick_job[2].rglob("*.csv"))
    second = sorted(p.relative_to(out) for p in out.rglob("*.csv"))
    assert first == second
    # the probes' tables and the trained study's (in <out>/study with --quick)
    assert {"claims.csv", "study/study_cells.csv", "study/study_summary.csv",
            "study/study_verdicts.csv"} <= {str(p) for p in first}
    differ = [str(p) for p in first if (quick_job[2] / p).read_bytes() != (out / p).read_bytes()]
    assert not differ, f"CSV files that differ between two runs with the same seed: {differ}"


def test_kernel_findings_follow_the_numbers():
    def rows(block_diff, norm_diff):
        out = []
        for model in ("spade", "clade"):
            for swap, d in (("block", block_diff), ("norm", norm_diff if model == "spade" else 0.0)):
                for pad in ("zero", "reflect"):
                    out.append(dict(model=model, swap=swap, padding=pad, layout="one-class",
                                    block="head_0", block_index=1, size=4,
                                    diff=0.0 if pad == "reflect" and swap == "block" else d,
                                    near=0.5, area=0.5))
        return pd.DataFrame(out)

    text = "\n".join(kernel_findings(rows(0.5, 0.001)))
    assert "250 times as much as the norm kernel" in text  # medians 0.25 (0.5 and 0) and 0.001
    assert "residual convs are what a conv-k1 CLADE changes" in text
    assert "a uniform class stays what it was" in text
    text = "\n".join(kernel_findings(rows(0.001, 0.5)))
    assert "the norm kernel changes them more" in text


def test_claim_findings_report_a_failing_claim_as_failing():
    claims = pd.DataFrame([
        dict(claim="reflect + one class: zero spatial std in every block", model="spade",
             measure="max", value=0.0, threshold="< 1e-05", holds=True),
        dict(claim="reflect + one class: zero spatial std in every block", model="clade",
             measure="max", value=0.25, threshold="< 1e-05", holds=False)])
    profiles = pd.DataFrame([dict(model=m, padding="zero", kernel=3, block="fc", size=4,
                                  layout="one-class", d_high=2, cum_variance_fraction=v,
                                  cum_area_fraction=0.75, rel_shift=0.1)
                             for m, v in (("spade", 1.0), ("clade", 0.6))])
    summary = pd.DataFrame([dict(model="va-clade", layout="one-class", block="fc",
                                 padding="reflect", rel_spatial=0.5)])
    text = "\n".join(claim_findings(claims, summary, profiles))
    assert "holds for spade (0)" in text and "**fails** for clade (0.250" in text
    assert "as low as 0.600 (clade" in text and "not all of it sits in the border ring" in text
    assert "exactly flat" not in text
    assert "max spatial_std/rms 0.500: not flat" in text


def test_trained_part_starts_before_the_probes_and_stops_when_they_fail(monkeypatch, tmp_path):
    """The trained part's runs train in worker processes while the probes run: start() comes
    before the probes, and a failing probe ends the workers (stop()) before the error goes on."""
    from analysis import main_job

    calls = []

    class Part:
        def start(self):
            calls.append("start")

        def stop(self):
            calls.append("stop")

        def __call__(self, out, figdir, progress):
            calls.append("trained")

    def probes(cfg):
        calls.append("probes")
        raise RuntimeError("a probe failed")

    monkeypatch.setattr(main_job, "_probes", probes)
    cfg = main_job.JobConfig(models=("clade",), out=tmp_path / "out", figures=tmp_path / "f",
                             progress=False, trained=Part())
    with pytest.raises(RuntimeError, match="a probe failed"):
        main_job.run_job(cfg)
    assert calls == ["start", "probes", "stop"]
    assert not (tmp_path / "out" / "report.md").exists()
