"""Untrusted checkpoints never run code; bad checkpoint files get one line; the suite's own runs
and official checkpoints load alike in probe and experiment; the experiment store never shows
a stale cell; user errors vs bugs in the command line (issue 14, items 1-4, 12, 13)."""
from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import subprocess
import sys
from contextlib import redirect_stdout
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import experiments.common as common
import vasis
from analysis.study import TINY
from vasis_suite.cli import build_parser, main
from vasis.errors import UserError
from vasis.loading import load_torch_file
from vasis.train import RunSettings, list_checkpoints, read_checkpoint, train
from vasis.train.load import load_generator, open_generator
import vasis.commands.classes as classes
from experiments import table1

ROOT = Path(__file__).resolve().parents[1]


class _Evil:
    """Creates a file when unpickled: loading must never run it."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


def _tiny_run(root: Path, model: str) -> Path:
    run = root / f"{model}-run"
    train(RunSettings(model, "scenes", size=(64, 64), generator=dict(TINY),
                      discriminator={"ndf": 4, "channels_d": 2, "num_d": 1},
                      recipe={"batch_size": 2, "use_vgg": False}, n_train=4, iters=1,
                      log_every=1, sample_every=0, ckpt_every=1, tensorboard=False),
          run, progress=False)
    return run


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("trust")
    return {m: _tiny_run(root, m) for m in ("spade", "va-spade")}


@pytest.fixture
def bad(tmp_path):
    """Files that are not checkpoints, each kind once, and a malicious pickle."""
    torch.save({"a": torch.zeros(64)}, tmp_path / "good.pt")
    data = (tmp_path / "good.pt").read_bytes()
    (tmp_path / "truncated.pt").write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.pt").write_bytes(b"")
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    pwned = tmp_path / "PWNED"
    with open(tmp_path / "evil.pt", "wb") as fh:
        pickle.dump({"netG": _Evil(pwned)}, fh)
    torch.save({"netG": _Evil(pwned)}, tmp_path / "evil_zip.pt")  # torch's zip format
    return tmp_path, pwned


# ------------------------------------------------------------------ item 1: no code runs
@pytest.mark.parametrize("name", ["evil.pt", "evil_zip.pt"])
def test_malicious_pickle_never_runs(bad, name):
    root, pwned = bad
    for load, fix in ((lambda p: vasis.load_official(p, "spade", "scenes", **TINY), "trust=True"),
                      (lambda p: open_generator(p, "spade", "scenes"), "--trust-checkpoint"),
                      # the trainer's own checkpoints never need it: no opt-in offered
                      (read_checkpoint, "No file this suite writes needs that")):
        with pytest.raises(UserError) as err:
            load(root / name)
        msg = str(err.value)
        assert "full unpickling" in msg and "arbitrary code" in msg and fix in msg
        assert "posix.system" in msg  # what it would have run, read without running it
    assert not pwned.exists()


def test_probe_and_experiment_refuse_malicious_checkpoint(bad, capsys, monkeypatch):
    root, pwned = bad
    monkeypatch.chdir(root)
    for argv in (["probe", "--checkpoint", "evil.pt", "--model", "spade", "--dataset",
                  "cityscapes"],
                 ["experiment", "table1", "--quick", "--checkpoint", "spade=evil.pt"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "--trust-checkpoint" in err and "full unpickling" in err
    assert not pwned.exists()
    assert not (root / "outputs").exists()  # experiment validated before writing anything


def test_trust_checkpoint_flag_opts_in(tmp_path, capsys):
    """An official state dict saved next to a numpy value needs full unpickling."""
    sd = vasis.build_generator("spade", "scenes", **TINY).state_dict()
    torch.save({"state_dict": sd, "epoch": np.int64(3)}, tmp_path / "latest_net_G.pth")
    probe = ["probe", "--checkpoint", str(tmp_path / "latest_net_G.pth"), "--model", "spade",
             "--samples", "2", "--ngf", "4", "--hidden", "8"]
    assert main(probe) == 2 and "--trust-checkpoint" in capsys.readouterr().err
    assert main([*probe, "--trust-checkpoint"]) == 0
    assert capsys.readouterr().out.startswith("# probe spade (official checkpoint")
    ctx = common.Context(tmp_path / "out", checkpoints={"spade": str(tmp_path / "latest_net_G.pth")},
                         quick=True, log=None, trust=True)
    gen = ctx.generator("spade", overrides=TINY)
    assert torch.equal(gen.state_dict()["fc.weight"], sd["fc.weight"])
    with pytest.raises(UserError, match="--trust-checkpoint"):
        common.Context(tmp_path / "out", checkpoints={"spade": str(tmp_path / "latest_net_G.pth")})


def test_trust_opts_in_to_full_unpickling(tmp_path):
    # A harmless object that weights_only refuses: a numpy array.
    torch.save({"x": np.arange(3)}, tmp_path / "numpy.pt")
    with pytest.raises(UserError, match="trust=True"):
        load_torch_file(tmp_path / "numpy.pt")
    assert load_torch_file(tmp_path / "numpy.pt", trust=True)["x"].tolist() == [0, 1, 2]


# ------------------------------------------------------------------ item 2: one line per file
@pytest.mark.parametrize("name, words", [
    ("README.md", "not a PyTorch checkpoint"),
    ("truncated.pt", "truncated or damaged"),
    ("empty.pt", "empty file"),
    ("missing.pt", "does not exist"),
])
def test_bad_checkpoint_files_name_the_file(bad, capsys, name, words):
    root, _ = bad
    path = str(root / name)
    for argv in (["probe", "--checkpoint", path, "--model", "spade"],
                 ["generate", "--checkpoint", path, "--out", str(root / "gen")],
                 ["experiment", "table1", "--quick", "--out", str(root / "exp"),
                  "--checkpoint", f"spade={path}"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:"), err
        assert path in lines[0] and words in lines[0], lines[0]
    assert not (root / "gen").exists() and not (root / "exp").exists()


def test_official_loader_and_trainer_share_the_safe_loader(bad):
    root, _ = bad
    for name in ("README.md", "truncated.pt", "empty.pt"):
        for load in (lambda p: vasis.load_official(p, "spade", "scenes"), read_checkpoint):
            with pytest.raises(UserError, match=name.replace(".", r"\.")):
                load(root / name)


# ------------------------------------------------------------------ item 3: the suite's runs
def test_probe_takes_a_suite_run_of_a_reflect_padded_model(runs, capsys):
    """va-spade reflect-pads: rebuilt from the run's config there is no padding diagnosis."""
    run = runs["va-spade"]
    step = list_checkpoints(run)[0]
    outs = []
    for argv in (["--checkpoint", str(step), "--model", "va-spade"],
                 ["--checkpoint", str(step), "--model", "va-spade", "--padding", "reflect"],
                 ["--checkpoint", str(run)]):  # the folder; model and dataset from the run
        rc = main(["probe", *argv, "--samples", "2", "--format", "json"])
        out, err = capsys.readouterr()
        assert rc == 0, err
        outs.append(json.loads(out))
    assert outs[0] == outs[1] == outs[2]
    assert {r["padding"] for r in outs[0]} == {"reflect"} and outs[0][0]["model"] == "va-spade"


def test_probe_refuses_options_that_contradict_the_run(runs, capsys):
    rc = main(["probe", "--checkpoint", str(runs["va-spade"]), "--model", "spade"])
    err = capsys.readouterr().err
    assert rc == 2 and "--model spade (the run is va-spade)" in err


def test_suite_and_official_checkpoints_are_told_apart_by_content(runs, tmp_path):
    run = runs["va-spade"]
    # A suite checkpoint under an official-looking name is still the suite run...
    shutil.copy(list_checkpoints(run)[0], tmp_path / "latest_net_G.pth")
    opened = open_generator(tmp_path / "latest_net_G.pth")
    assert opened.kind == "suite" and opened.generator.cfg.padding == "reflect"
    ref = load_generator(run)[0]
    for a, b in zip(opened.generator.state_dict().values(), ref.state_dict().values()):
        assert torch.equal(a, b)
    # ... and an official state dict under a suite-looking name is official.
    sd = vasis.build_generator("spade", "scenes", **TINY).state_dict()
    torch.save(sd, tmp_path / "step_00000001.pt")
    opened = open_generator(tmp_path / "step_00000001.pt", "spade", "scenes", **TINY)
    assert opened.kind == "official"


def test_experiment_context_loads_a_reflect_padded_suite_run(runs, tmp_path):
    ctx = common.Context(tmp_path / "out", checkpoints={"va-spade": str(runs["va-spade"])},
                         quick=True, log=None)
    gen = ctx.generator("va-spade")
    assert gen.cfg.padding == "reflect"
    assert not (tmp_path / "out").exists()  # nothing written before a cell is finished


# ------------------------------------------------------------------ item 4: no stale cells
def _experiment(out, runs_dir, *extra, quick=True):
    argv = ["experiment", "table1", *(["--quick"] if quick else []), "--out", str(out),
            "--runs", str(runs_dir),
            "--fid-weights", str(out / "no-inception.pth"), "--quiet", "--format", "json", *extra]
    args = build_parser().parse_args(argv)
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert args.func(args) == 0
    return json.loads(buf.getvalue().strip().splitlines()[-1])["computed"]


def test_store_keys_cells_by_scale_and_checkpoint_content(runs, tmp_path, monkeypatch):
    spade_rows = 1 + len(table1.RETRAINED["spade"]) + len(table1.SURGERY_ROWS["spade"])
    out, runs_dir = tmp_path / "out", tmp_path / "runs"
    assert _experiment(out, runs_dir) == spade_rows   # the quick run: every spade row
    assert _experiment(out, runs_dir) == 0            # the same again: all reused
    # The full scale (here a slightly larger stand-in, so the test stays short) recomputes.
    monkeypatch.setattr(common, "DEFAULT", replace(common.QUICK, iters=2))
    assert _experiment(out, runs_dir, "--models", "spade", quick=False) == spade_rows
    # A given checkpoint recomputes; the same content again does not; new content does.
    ckpt = tmp_path / "given.pt"
    shutil.copy(list_checkpoints(runs["spade"])[0], ckpt)
    assert _experiment(out, runs_dir, "--checkpoint", f"spade={ckpt}") == spade_rows
    assert _experiment(out, runs_dir, "--checkpoint", f"spade={ckpt}") == 0
    state = torch.load(ckpt, weights_only=True)
    state["generator"] = {k: v + 1 if v.is_floating_point() else v
                          for k, v in state["generator"].items()}
    state.pop("ema_eval", None), state.pop("ema", None)
    torch.save(state, ckpt)
    assert _experiment(out, runs_dir, "--checkpoint", f"spade={ckpt}") == spade_rows
    # Another seed is another scope too; the quick cells are still there for the quick run.
    assert _experiment(out, runs_dir, "--seed", "1") == spade_rows
    assert list_checkpoints(runs_dir / "scenes-quick-seed1" / "spade")  # its own training run
    assert _experiment(out, runs_dir) == 0


# ------------------------------------------------------------------ items 12, 13: the CLI
def _run(*argv, env=None, close_stdout=False):
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    p = subprocess.Popen([sys.executable, str(ROOT / "run_analysis.py"), *argv],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    if close_stdout:  # the reader went away before the command wrote (`... | head -0`)
        p.stdout.close()
        err = p.stderr.read().decode()
        return p.wait(), "", err
    out, err = p.communicate()
    return p.returncode, out.decode(), err.decode()


@pytest.mark.parametrize("dataset", ["cityscapes", "coco-stuff"])
def test_broken_pipe_exits_quietly(dataset):
    rc, _, err = _run("classes", "--dataset", dataset, close_stdout=True)
    assert rc == 0 and "Traceback" not in err and "Exception ignored" not in err, err


def test_head_of_classes_through_a_real_pipe():
    cmd = (f"{sys.executable} {ROOT / 'run_analysis.py'} classes --dataset coco-stuff | head -5; "
           f"exit ${{PIPESTATUS[0]}}")
    p = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert p.returncode == 0 and len(p.stdout.splitlines()) == 5
    assert "Traceback" not in p.stderr, p.stderr


@pytest.mark.parametrize("exc", [ValueError("internal bug"), KeyError("internal bug"),
                                 FileNotFoundError("internal bug")])
def test_an_internal_bug_keeps_its_traceback(monkeypatch, exc):
    """Only UserError is bad input; a plain ValueError / KeyError / FileNotFoundError is a bug."""

    def broken(args):
        raise exc

    monkeypatch.setattr(classes, "run", broken)
    with pytest.raises(type(exc), match="internal bug"):
        main(["classes", "--dataset", "scenes"])


def test_debug_shows_a_user_errors_traceback(capsys):
    with pytest.raises(UserError, match="unknown --model 'nope'"):
        main(["--debug", "probe", "--model", "nope"])
    rc, _, err = _run("probe", "--model", "nope", env={"VASIS_DEBUG": "1"})
    assert rc != 2 and "Traceback" in err and "UserError" in err
    rc, _, err = _run("probe", "--model", "nope")
    assert rc == 2 and "Traceback" not in err and err.startswith("error: unknown --model 'nope'")
