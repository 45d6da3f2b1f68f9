"""The trainer: every model trains (scenes + real COCO-Stuff sample), exact resume, crash safety,
torchrun/gloo, dataset refusal, NaN stop, VGG error, generate. Tiny widths, one CPU thread."""
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from analysis.study import TINY, TINY_DISCRIMINATOR
from vasis_suite.cli import main
from vasis.presets import MODELS
from vasis.train import NonFiniteLossError, RunSettings, list_checkpoints, load_latest, train
from vasis.train.monitor import read_losses
from vasis.train.recipes import recipe
import vasis.train.generate as gen_mod
import vasis.train.trainer as trainer_mod
from vasis.data import write_scenes
from vasis.errors import UserError
from vasis.train import loop

ROOT = Path(__file__).resolve().parents[1]
TINY_G, TINY_D = dict(TINY), dict(TINY_DISCRIMINATOR)
CLI_TINY = ["--ngf", "4", "--hidden", "8", "--ndf", "4", "--channels-d", "2", "--num-d", "1",
            "--threads", "1", "--no-progress"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


@pytest.fixture(autouse=True)
def one_thread():
    # Under CPU contention two intra-op threads are many times slower than one.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny(model, dataset="scenes", **kw):
    base = dict(generator=dict(TINY_G), discriminator=dict(TINY_D),
                recipe={"batch_size": 2, "ema_refresh_batches": 1, "use_vgg": False},
                n_train=6, log_every=1, sample_every=0, ckpt_every=2, tensorboard=False)
    base.update(kw)
    return RunSettings(model, dataset, **base)


def test_recipes_follow_the_papers():
    r = recipe("spade", "cityscapes")
    assert (r.lr_g, r.lr_d, r.beta1, r.beta2, r.batch_size) == (1e-4, 4e-4, 0.0, 0.9, 16)
    assert (r.niter, r.niter_decay, r.use_vgg) == (100, 100, True)
    assert r.lr_factor(0) == r.lr_factor(99) == 1.0 and r.lr_factor(150) == 0.5
    assert recipe("va-clade", "ade20k").batch_size == 32
    assert (r.no_ttur().lr_g, r.no_ttur().beta1) == (2e-4, 0.5)
    o = recipe("oasis", "cityscapes")
    assert (o.lr_g, o.lr_d, o.beta2, o.batch_size, o.ema_decay) == (4e-4, 4e-4, 0.999, 20, 0.999)
    o = recipe("va-oasis", "coco-stuff")
    assert (o.lr_g, o.batch_size, o.ema_decay, o.use_vgg) == (1e-4, 32, 0.9999, False)
    s = recipe("spade", "scenes")
    assert s.batch_size == 4 and not s.use_vgg


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_model_trains_on_scenes(model, tmp_path):
    res = train(tiny(model, iters=2, sample_every=2, tensorboard=True), tmp_path / "run", progress=False)
    assert res.step == 2 and all(np.isfinite(v) for v in res.last_losses.values())
    _, state = load_latest(tmp_path / "run")
    assert state["step"] == 2 and (state["ema"] is not None) == model.endswith("oasis")
    assert not any(k.startswith("module.") for k in state["generator"])
    assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "run" / "tb").iterdir())
    assert [row["step"] for row in read_losses(tmp_path / "run")] == [1, 2]


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_model_trains_on_real_coco(model, coco_sample, tmp_path):
    s = tiny(model, "coco-stuff", dataroot=str(coco_sample), size=(128, 128), iters=1, n_train=None)
    res = train(s, tmp_path / "run", progress=False)
    assert res.step == 1 and all(np.isfinite(v) for v in res.last_losses.values())


@pytest.mark.parametrize("model", ["oasis", "va-spade"])
def test_resume_is_bit_for_bit(model, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    # 6 scenes / batch 2 = 3 steps per epoch: the resumed part crosses an epoch boundary.
    train(tiny(model, iters=4), a, progress=False)
    train(tiny(model, iters=2), b, progress=False)
    train(None, b, resume=True, updates={"iters": 4}, progress=False)
    assert read_losses(a) == read_losses(b) and len(read_losses(a)) == 4
    (_, sa), (_, sb) = load_latest(a), load_latest(b)
    assert sa["step"] == sb["step"] == 4
    for key in ("generator", "discriminator", "ema", "ema_eval"):
        if sa[key] is None:
            continue
        for k, v in sa[key].items():
            assert torch.equal(v, sb[key][k]), (key, k)
    assert sa["opt_g"]["state"][0]["exp_avg"].equal(sb["opt_g"]["state"][0]["exp_avg"])


def test_sigkill_then_resume(tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, str(ROOT / "run_analysis.py"), "train", "--model", "spade",
           "--out", str(run), "--batch-size", "2", "--iters", "2000", "--n-train", "8",
           "--ckpt-every", "3", "--log-every", "1", *CLI_TINY]
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 90
        while time.time() < deadline and proc.poll() is None:
            ckpts = list_checkpoints(run)
            if ckpts and int(ckpts[0].stem.split("_")[1]) >= 6:
                break
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    logged = max(r["step"] for r in read_losses(run))
    path, state = load_latest(run)          # every remaining checkpoint is complete
    for p in list_checkpoints(run):
        torch.load(p, map_location="cpu", weights_only=True)
    assert state["step"] >= 6 and logged - state["step"] < 3 + 1
    target = state["step"] + 2
    rc = main(["train", "--out", str(run), "--resume", "--iters", str(target), "--threads", "1",
               "--no-progress"])
    assert rc == 0
    steps = [r["step"] for r in read_losses(run)]
    assert steps == list(range(1, target + 1))
    assert load_latest(run)[1]["step"] == target
    assert not list((run / "checkpoints").glob(".*tmp*"))


def test_torchrun_gloo_then_single_process_resume(tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(ROOT / "run_analysis.py"), "train", "--model", "va-oasis", "--out", str(run),
           "--batch-size", "2", "--iters", "2", "--n-train", "8", "--ckpt-every", "2",
           "--log-every", "1", "--ema-refresh", "1", *CLI_TINY]
    out = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-3000:]
    info = json.loads((run / "run.json").read_text())
    assert info["world_size"] == 2 and info["steps_per_epoch"] == 2  # 8 items / 2 ranks / batch 2
    _, state = load_latest(run)
    assert state["world_size"] == 2 and len(state["rng_ranks"]) == 2
    assert not any(k.startswith("module.") for k in state["generator"])
    assert main(["train", "--out", str(run), "--resume", "--iters", "3", "--threads", "1",
                 "--no-progress"]) == 0
    _, state = load_latest(run)
    assert state["step"] == 3 and state["world_size"] == 1


def test_bad_dataset_is_refused_with_every_problem(tmp_path, capsys):
    root = write_scenes(tmp_path / "data", n_train=4, n_val=1, size=(32, 32))
    (root / "train" / "images" / "00000.png").write_bytes(b"not a png")
    (root / "train" / "labels" / "00001.png").unlink()
    Image.fromarray(np.full((32, 32), 99, np.uint8), "L").save(root / "train" / "labels" / "00002.png")
    out = tmp_path / "run"
    rc = main(["train", "--model", "spade", "--dataset", "scenes", "--dataroot", str(root),
               "--out", str(out), "--size", "32x32", *CLI_TINY])
    err = capsys.readouterr().err
    assert rc == 2 and not out.exists()
    assert "00000.png" in err and "cannot be read" in err
    assert "00001" in err and "no label map" in err
    assert "00002.png" in err and "99" in err
    assert "Nothing was written" in err


def test_existing_run_dir_is_not_overwritten(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    rc = main(["train", "--model", "spade", "--out", str(out), "--iters", "1", *CLI_TINY])
    assert rc == 2 and "--resume" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_missing_vgg_weights_error_names_the_flag(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_cache"))
    s = tiny("spade", iters=1, recipe={"batch_size": 2, "use_vgg": True})
    with pytest.raises(FileNotFoundError, match="--no-vgg-loss"):
        train(s, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_nan_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    real = loop.spade_generator_losses
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        losses = real(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 3:
            losses["GAN_Feat"] = losses["GAN_Feat"] * float("nan")
        return losses

    monkeypatch.setattr(loop, "spade_generator_losses", poisoned)
    run = tmp_path / "run"
    with pytest.raises(NonFiniteLossError) as info:
        train(tiny("clade", iters=6), run, progress=False)
    msg = str(info.value)
    assert "step 3" in msg and "GAN_Feat" in msg and "step_00000002.pt" in msg
    assert [p.name for p in list_checkpoints(run)] == ["step_00000002.pt"]
    assert load_latest(run)[1]["step"] == 2


def test_generate_writes_images_and_labels(tmp_path, capsys):
    run = tmp_path / "run"
    train(tiny("va-oasis", iters=1), run, progress=False)
    out = tmp_path / "gen"
    assert main(["generate", "--checkpoint", str(run), "--out", str(out), "--samples", "2",
                 "--limit", "3", "--threads", "1"]) == 0
    names = sorted(p.name for p in (out / "images").iterdir())
    assert names == [f"val_{i:05d}_s{k}.png" for i in range(3) for k in range(2)]
    assert names == sorted(p.name for p in (out / "labels").iterdir())
    with Image.open(out / "images" / names[0]) as im:
        assert im.size == (128, 128) and im.mode == "RGB"
    # the pairs feed the variation tool
    capsys.readouterr()
    assert main(["variation", "--images", str(out / "images"), "--labels", str(out / "labels"),
                 "--dataset", "scenes", "--format", "json"]) == 0
    assert "one_color" in json.loads(capsys.readouterr().out)
    # labels from a folder; a checkpoint file works as well as a run folder
    ckpt = list_checkpoints(run)[0]
    out2 = tmp_path / "gen2"
    assert main(["generate", "--checkpoint", str(ckpt), "--labels", str(out / "labels"),
                 "--out", str(out2), "--threads", "1"]) == 0
    assert sorted(p.name for p in (out2 / "images").iterdir()) == [f"{n[:-4]}_s0.png" for n in names]


# ------------------------------------------------------------------ resume, stops, bad samples
RUN_ARGS = ["--model", "spade", "--batch-size", "2", "--n-train", "4", "--ckpt-every", "2",
            "--size", "128x128"]


def _snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns, p.read_bytes()
                                       if p.name == "run.json" else b"")
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_resume_at_or_below_the_current_step_changes_nothing(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *RUN_ARGS, "--out", str(run), "--iters", "3", *CLI_TINY]) == 0
    before = _snapshot(run)
    out = capsys.readouterr().out         # train says where its outputs go
    for where in (run / "checkpoints", run / "losses.jsonl", f"tensorboard --logdir {run / 'tb'}"):
        assert str(where) in out, out
    for iters in ("3", "2"):
        assert main(["train", "--out", str(run), "--resume", "--iters", iters, *CLI_TINY]) == 0
        out, err = capsys.readouterr()
        assert "nothing to do" in out and "step 3" in out and "trained" not in out, out
        assert err == ""
    assert _snapshot(run) == before           # run.json (iters 3) and checkpoints untouched
    assert json.loads((run / "run.json").read_text())["settings"]["iters"] == 3


def test_resume_accepts_the_runs_own_command_line_and_names_what_differs(tmp_path, capsys):
    run = tmp_path / "run"
    first = ["train", *RUN_ARGS, "--out", str(run), "--iters", "2", *CLI_TINY]
    assert main(first) == 0
    capsys.readouterr()
    # SPADE users' habit (--continue_train): the same command line plus --resume and more iters
    assert main([*first[:-len(CLI_TINY)], "--resume", "--iters", "3", *CLI_TINY]) == 0
    assert load_latest(run)[1]["step"] == 3
    # equal to the run's defaults, spelled out: accepted too (defaults are not "given")
    assert main(["train", "--out", str(run), "--resume", "--iters", "4", "--dataset", "scenes",
                 "--seed", "0", "--no-vgg-loss", *CLI_TINY]) == 0
    capsys.readouterr()
    before = _snapshot(run)
    rc = main(["train", "--out", str(run), "--resume", "--iters", "6", "--batch-size", "4",
               "--size", "64x64", "--model", "spade", *CLI_TINY])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("error:") == 1, err
    assert "--batch-size 4 (the run's: 2)" in err and "--size 64x64 (the run's: 128x128)" in err
    assert "--model" not in err and "--ngf" not in err    # equal values are not refused
    assert _snapshot(run) == before


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGUSR1, 138)])
def test_signal_stops_at_a_step_with_a_checkpoint(tmp_path, sig, code):
    run = tmp_path / "run"
    cmd = [sys.executable, str(ROOT / "run_analysis.py"), "train", "--model", "spade",
           "--out", str(run), "--batch-size", "2", "--iters", "2000", "--n-train", "8",
           "--ckpt-every", "1000", "--log-every", "1", *CLI_TINY]
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None and not read_losses(run):
            time.sleep(0.1)                   # the first step is logged: training is under way
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err[-2000:]
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    path, state = load_latest(run)            # written at the stop, not at --ckpt-every
    step = state["step"]
    assert 1 <= step < 1000 and max(r["step"] for r in read_losses(run)) == step
    assert f"{signal.Signals(sig).name} after step {step}" in err and str(path) in err
    assert "train --resume --out" in err
    assert not list((run / "checkpoints").glob(".*tmp*"))
    # the resume command continues from there
    assert main(["train", "--out", str(run), "--resume", "--iters", str(step + 1),
                 "--threads", "1", "--no-progress"]) == 0
    assert load_latest(run)[1]["step"] == step + 1


def test_sigterm_under_torchrun_stops_every_rank_at_the_same_step(tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(ROOT / "run_analysis.py"), "train", "--model", "spade", "--out", str(run),
           "--batch-size", "2", "--iters", "2000", "--n-train", "8", "--ckpt-every", "1000",
           "--log-every", "1", *CLI_TINY]
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.time() + 180
        while time.time() < deadline and proc.poll() is None and not read_losses(run):
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        proc.send_signal(signal.SIGTERM)      # torchrun forwards it to both ranks
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    _, state = load_latest(run)
    step = state["step"]
    # the checkpoint gathers both ranks' RNG states: both ranks reached the same save
    assert state["world_size"] == 2 and len(state["rng_ranks"]) == 2 and step < 1000
    assert f"stopped by SIGTERM after step {step}" in err, err[-3000:]
    assert err.count("stopped by SIGTERM") == 1        # rank 0 reports, once


def test_undecodable_sample_mid_run_stops_with_one_line(coco_sample, tmp_path, monkeypatch, capsys):
    """A file damaged after the up-front check (or only detectable by decoding): the run stops
    with one line naming it, the last good checkpoint kept."""


    root = tmp_path / "coco"
    names = sorted(p.stem for p in (coco_sample / "train_img").glob("*.jpg"))[:2]
    for sub, ext in (("train_img", ".jpg"), ("train_label", ".png"), ("train_inst", ".png")):
        (root / sub).mkdir(parents=True)
        for n in names:
            shutil.copy(coco_sample / sub / (n + ext), root / sub / (n + ext))
    run = tmp_path / "run"
    args = ["train", "--model", "spade", "--dataset", "coco-stuff", "--dataroot", str(root),
            "--size", "64x64", "--batch-size", "1", "--ckpt-every", "1", "--no-vgg-loss",
            "--out", str(run),
            *CLI_TINY]
    assert main([*args, "--iters", "2"]) == 0
    bad = root / "train_img" / f"{names[0]}.jpg"
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    monkeypatch.setattr(trainer_mod, "check_data", lambda *a, **k: None)  # damaged after the check
    capsys.readouterr()
    rc = main(["train", "--out", str(run), "--resume", "--iters", "6", *CLI_TINY])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and err.startswith("error: "), err
    kept = list_checkpoints(run)[0]           # checkpoints every step: the one before the failure
    step = load_latest(run)[1]["step"]
    assert step >= 2 and f"stopped at step {step + 1}" in err, err
    assert str(bad) in err and "truncated" in err and str(kept) in err and "--resume" in err
    assert "Nothing was written" not in err


def test_generate_checks_arguments_first_and_leaves_nothing_behind(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    train(tiny("spade", iters=1), run, progress=False)
    out = tmp_path / "gen"
    before = sorted(p.name for p in tmp_path.iterdir())
    # a bad count is refused before anything is created (it used to leave empty folders)
    with pytest.raises(SystemExit) as exit_:   # argparse refuses it while parsing
        main(["generate", "--checkpoint", str(run), "--out", str(out), "--batch-size", "0"])
    rc, err = exit_.value.code, capsys.readouterr().err
    assert rc == 2 and "--batch-size" in err and "0" in err and "range()" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    with pytest.raises(UserError, match="--batch-size must be an integer >= 1, got 0"):
        gen_mod.generate(run, out, batch_size=0)               # the library checks it too
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    # a failure midway (here: the second label map) removes what was written
    real = gen_mod._to_raw
    calls = {"n": 0}

    def failing(*args):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return real(*args)

    monkeypatch.setattr(gen_mod, "_to_raw", failing)
    with pytest.raises(OSError, match="disk full"):
        gen_mod.generate(run, out / "nested", limit=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == before      # no gen/, no temporaries
    monkeypatch.setattr(gen_mod, "_to_raw", real)
    # so the corrected retry works, and shows its progress
    assert main(["generate", "--checkpoint", str(run), "--out", str(out), "--limit", "3",
                 "--batch-size", "2", "--threads", "1"]) == 0
    captured = capsys.readouterr()
    assert "generate" in captured.err and "3/3" in captured.err, captured.err
    assert len(list((out / "images").iterdir())) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(before + ["gen"])


def test_check_images_full_finds_damage_the_file_end_does_not_show(tmp_path, capsys):
    """A PNG whose middle is damaged still ends with IEND: the quick up-front check passes it
    and the run stops when the sample is read (one line naming it); --check-images full
    refuses the folder before anything is written."""

    root = write_scenes(tmp_path / "data", n_train=4, n_val=1, size=(32, 32))
    bad = root / "train" / "images" / "00001.png"
    data = bytearray(bad.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 16] = b"\x00" * 16              # inside the image data; IEND intact
    bad.write_bytes(bytes(data))
    args = ["train", "--model", "spade", "--dataset", "scenes", "--dataroot", str(root),
            "--size", "32x32", "--batch-size", "2", "--iters", "8", *CLI_TINY]
    out = tmp_path / "full"
    assert main([*args, "--out", str(out), "--check-images", "full"]) == 2
    err = capsys.readouterr().err
    assert "00001.png" in err and "Nothing was written" in err and not out.exists()
    out = tmp_path / "tail"
    assert main([*args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(bad) in err and "training stopped at step" in err, err


@pytest.mark.parametrize("model", ["va-spade", "oasis"])
def test_opt_in_fast_paths_train_and_stay_close_to_fp32(model, tmp_path):
    """--channels-last and --amp (bf16 on the CPU) train; with channels_last the first G loss
    terms (computed before any update) stay at rounding distance from the default layout, with
    bf16 at bf16 distance; the checkpoints keep the plain layout and names."""
    base, nhwc = tmp_path / "base", tmp_path / "nhwc"
    train(tiny(model, iters=1), base, progress=False)
    train(tiny(model, iters=1, channels_last=True), nhwc, progress=False)
    res = train(tiny(model, iters=1, amp=True), tmp_path / "amp", progress=False)
    assert all(np.isfinite(v) for v in res.last_losses.values())
    (_, sa), (_, sb) = load_latest(base), load_latest(nhwc)
    assert sa["generator"].keys() == sb["generator"].keys()
    g_terms = ("G_adv",) if model == "oasis" else ("GAN", "GAN_Feat")
    ref, fast, bf16 = (read_losses(d)[0] for d in (base, nhwc, tmp_path / "amp"))
    for k in g_terms:
        assert fast[k] == pytest.approx(ref[k], rel=1e-4, abs=1e-6), k
        assert bf16[k] == pytest.approx(ref[k], rel=5e-2, abs=1e-3), k
    # autocast did run in bf16: the losses, or at least the first update, differ from fp32
    # (on some CPUs OASIS's first adversarial loss comes out the same in both)
    _, sc = load_latest(tmp_path / "amp")
    assert any(bf16[k] != ref[k] for k in g_terms) or any(
        not torch.equal(sa["generator"][k], sc["generator"][k]) for k in sa["generator"])


def test_fast_path_flags_reach_the_run_settings(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--model", "spade", "--out", str(out), "--iters", "1",
                 "--n-train", "4", "--batch-size", "2", "--channels-last", "--amp",
                 *CLI_TINY]) == 0
    saved = json.loads((out / "run.json").read_text())["settings"]
    assert saved["channels_last"] and saved["amp"] and not saved["compile"]


@pytest.mark.parametrize("model", ["spade", "oasis"])
def test_freezing_d_in_the_g_step_changes_no_number(model, tmp_path, monkeypatch):
    """The G step runs D with its parameters frozen (their gradients would be discarded): the
    trained weights are bit-identical to computing those gradients."""

    train(tiny(model, iters=2), tmp_path / "frozen", progress=False)
    monkeypatch.setattr(loop, "_frozen", lambda ctx, net: contextlib.nullcontext())
    train(tiny(model, iters=2), tmp_path / "plain", progress=False)
    (_, sa), (_, sb) = load_latest(tmp_path / "frozen"), load_latest(tmp_path / "plain")
    for key in ("generator", "discriminator"):
        for k, v in sa[key].items():
            assert torch.equal(v, sb[key][k]), (key, k)
