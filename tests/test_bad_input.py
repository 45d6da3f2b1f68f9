"""Every subcommand with bad input: exit code 2, one ``error:`` line on stderr naming the value and the fix (argparse's usage
lines may stand above it),
no traceback, nothing created or changed on disk.

Each row is (id, argv, words): ``argv`` may use ``{name}`` for the files that
:func:`bad_files` makes; ``words`` must all appear in the error line (the value and the fix).
The commands run in-process in a scratch folder that holds those files; the folder's tree
(names, sizes, modification times) must be the same afterwards.
"""
from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from analysis.study import TINY as TINY_WIDTHS
from vasis_suite.cli import main

ROOT = Path(__file__).resolve().parents[1]
TINY = [a for k, v in TINY_WIDTHS.items() for a in (f"--{k}", str(v))]


class _Evil:
    """A pickle that creates a file when unpickled: loading it must never run this."""

    def __init__(self, target: str):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


def bad_files(root: Path) -> dict[str, str]:
    """The inputs the rows name, made in ``root``; {name: path}."""
    files = {}
    files["readme"] = str(shutil.copy(ROOT / "README.md", root / "README.md"))
    (root / "empty.pt").write_bytes(b"")
    files["empty_pt"] = str(root / "empty.pt")
    files["pwned"] = str(root / "PWNED")
    with open(root / "evil.pt", "wb") as fh:
        pickle.dump({"netG": _Evil(files["pwned"])}, fh)
    files["evil_pt"] = str(root / "evil.pt")
    files["missing"] = str(root / "does-not-exist.pt")
    files["out"] = str(root / "out")
    (root / "old-run").mkdir()
    (root / "old-run" / "notes.txt").write_text("not a training run")
    files["run_dir"] = str(root / "old-run")          # an existing folder without checkpoints
    files["missing_dir"] = str(root / "no-such-folder")
    # -- probe / experiment / variation (ROWS_CORE)
    torch.save({"fc.weight": torch.zeros(8, 8)}, root / "truncated.pt")
    data = (root / "truncated.pt").read_bytes()
    (root / "truncated.pt").write_bytes(data[: len(data) // 2])
    files["trunc_pt"] = str(root / "truncated.pt")
    (root / "notarun").mkdir()
    files["notarun"] = str(root / "notarun")
    rng = np.random.default_rng(0)
    for name, ids in (("var_coco", (0, 150, 255)), ("var_junk", (0, 2))):
        (root / name / "img").mkdir(parents=True)
        (root / name / "lab").mkdir()
        lab = np.zeros((16, 16), np.uint8)
        for k, v in enumerate(ids):
            lab[k * 5:] = v
        Image.fromarray(lab).save(root / name / "lab" / "a.png")
        Image.fromarray((rng.random((16, 16, 3)) * 255).astype(np.uint8)).save(root / name / "img" / "a.png")
        files[name] = str(root / name)
    (root / "var_junk" / "img" / "notes.png").write_text("not an image\n")
    shutil.copy(root / "var_junk" / "lab" / "a.png", root / "var_junk" / "lab" / "notes.png")
    # not a training run, where `main --quick --out mainout` trains the study's SPADE run
    foreign = root / "mainout" / "study" / "runs" / "scenes-study-quick" / "spade"
    foreign.mkdir(parents=True)
    (foreign / "notes.txt").write_text("mine\n")
    files["mainout"] = str(root / "mainout")
    (root / "studyout" / "runs" / "scenes-study-quick" / "spade").mkdir(parents=True)
    (root / "studyout" / "runs" / "scenes-study-quick" / "spade" / "notes.txt").write_text("mine\n")
    files["studyout"] = str(root / "studyout")
    ts = torch.jit.trace(torch.nn.Conv2d(3, 7, 1), torch.zeros(1, 3, 4, 4))
    torch.jit.save(ts, str(root / "segmenter.ts"))
    files["ts_segmenter"] = str(root / "segmenter.ts")
    # fid: image folders (two images, one image, one file that is no image), .npz statistics
    for name, count in (("img_two", 2), ("img_one", 1)):
        (root / name).mkdir()
        for i in range(count):
            Image.new("RGB", (8, 8), (40 * i, 90, 200)).save(root / name / f"{i}.png")
        files[name] = str(root / name)
    (root / "img_bad").mkdir()
    (root / "img_bad" / "not-an-image.png").write_text("hello")
    Image.new("RGB", (8, 8)).save(root / "img_bad" / "ok.png")
    files["img_bad"] = str(root / "img_bad")
    np.savez(root / "empty.npz", foo=np.zeros(2))
    files["npz_empty"] = str(root / "empty.npz")
    np.savez(root / "stats.npz", mu=np.zeros(4), sigma=np.eye(4))
    files["npz_stats"] = str(root / "stats.npz")
    return files


# -- rows: probe, classes, complexity, experiment, main -----------------------------------
ROWS_CORE = [
    ("probe-unknown-model", ["probe", "--model", "spadee"], ["spadee", "spade"]),
    ("probe-unknown-dataset", ["probe", "--model", "spade", "--dataset", "cityscape"], ["cityscape", "cityscapes"]),
    ("complexity-unknown-model", ["complexity", "--model", "nope"], ["nope", "spade"]),
    ("classes-unknown-dataset", ["classes", "--dataset", "nope"], ["nope", "cityscapes"]),
    ("probe-block-kernel-2", ["probe", "--model", "clade", "--block-kernel", "2"], ["--block-kernel", "'2'", "3, 1"]),
    ("experiment-table1-checkpoint-unknown-setting",
     ["experiment", "table1", "--out", "{out}", "--checkpoint", "spade:conv-k2={missing}"],
     ["spade:conv-k2", "conv-k1", "MODEL:SETTING=PATH"]),
    ("experiment-table1-checkpoint-unknown-model",
     ["experiment", "table1", "--out", "{out}", "--checkpoint", "oasis:reflect={missing}"],
     ["oasis:reflect", "spade", "clade"]),
    ("experiment-table1-checkpoint-no-path",
     ["experiment", "table1", "--out", "{out}", "--checkpoint", "spade:reflect"],
     ["spade:reflect", "MODEL:SETTING=PATH"]),
    ("experiment-table1-checkpoint-missing-file",
     ["experiment", "table1", "--out", "{out}", "--checkpoint", "clade:conv-k1={missing}"],
     ["{missing}", "clade:conv-k1"]),
    # probe: checkpoints that are not checkpoints, or that would run code
    ("probe-readme-checkpoint", ["probe", "--checkpoint", "{readme}", "--model", "spade"],
     ["{readme}", "not a PyTorch checkpoint", ".pt"]),
    ("probe-truncated-checkpoint", ["probe", "--checkpoint", "{trunc_pt}", "--model", "spade"],
     ["{trunc_pt}", "truncated", "download it again"]),
    ("probe-empty-checkpoint", ["probe", "--checkpoint", "{empty_pt}", "--model", "spade"],
     ["{empty_pt}", "empty", "download it again"]),
    ("probe-malicious-checkpoint", ["probe", "--checkpoint", "{evil_pt}", "--model", "spade",
                                    "--dataset", "cityscapes"],
     ["{evil_pt}", "full unpickling", "--trust-checkpoint"]),
    ("probe-missing-checkpoint", ["probe", "--checkpoint", "{missing}", "--model", "spade"],
     ["{missing}", "does not exist", "run folder"]),
    ("probe-folder-not-a-run", ["probe", "--checkpoint", "{notarun}"],
     ["{notarun}", "without training checkpoints", "run folder"]),
    ("probe-no-model", ["probe", "--layout", "one-class"], ["--model", "--checkpoint"]),
    # probe: names, ids, sizes, counts
    ("probe-unknown-class", ["probe", "--model", "spade", "--classes", "skyy", *TINY],
     ["skyy", "classes --dataset scenes"]),
    ("probe-class-id-out-of-range", ["probe", "--model", "spade", "--classes", "99", *TINY],
     ["99", "0..6"]),
    ("probe-same-class-twice", ["probe", "--model", "spade", "--layout", "two-class",
                                "--classes", "sky,sky", *TINY],
     ["sky,sky", "--layout one-class"]),
    ("probe-bad-size", ["probe", "--model", "spade", "--size", "0x64", *TINY], ["0x64", "positive"]),
    ("probe-size-not-multiple", ["probe", "--model", "spade", "--size", "100x100", *TINY],
     ["100", "multiple of 32"]),
    ("probe-zero-samples", ["probe", "--model", "spade", "--samples", "0", *TINY],
     ["--samples", "0", ">= 1"]),
    ("probe-negative-seed", ["probe", "--model", "spade", "--seed", "-1", *TINY],
     ["--seed", "-1", ">= 0"]),
    ("probe-unknown-layout", ["probe", "--model", "spade", "--layout", "three-class"],
     ["three-class", "one-class"]),
    # probe --factory (tests/foreign_generator.py, on sys.path under pytest): bad import paths,
    # bad point names, options that do not go with it
    ("probe-factory-no-function", ["probe", "--factory", "foreign_generator.build"],
     ["foreign_generator.build", "MODULE:FUNCTION", "mypkg.models:build"]),
    ("probe-factory-missing-module", ["probe", "--factory", "nosuchpkg.models:build"],
     ["nosuchpkg", "PYTHONPATH"]),
    ("probe-factory-missing-attribute", ["probe", "--factory", "foreign_generator:biuld"],
     ["biuld", "build"]),
    ("probe-factory-not-callable", ["probe", "--factory", "foreign_generator:CITYSCAPES_INPUT"],
     ["CITYSCAPES_INPUT", "int", "not a function"]),
    ("probe-factory-needs-arguments", ["probe", "--factory", "vasis.labels:label_space"],
     ["label_space(dataset", "needs arguments", "defaults"]),
    ("probe-factory-not-a-module", ["probe", "--factory", "foreign_generator:not_a_model"],
     ["not_a_model", "str", "torch.nn.Module"]),
    ("probe-factory-bad-point", ["probe", "--factory", "foreign_generator:build", "--points",
                                 "head_0,up_9", "--dataset", "cityscapes", "--size", "64x64"],
     ["'up_9'", "head_0, up_0", "named_modules"]),
    ("probe-factory-and-model", ["probe", "--factory", "foreign_generator:build", "--model",
                                 "spade"], ["--factory", "--model"]),
    ("probe-factory-kernel", ["probe", "--factory", "foreign_generator:build", "--kernel", "1"],
     ["--kernel", "convs="]),
    ("probe-factory-unknown-encode", ["probe", "--factory", "foreign_generator:build",
                                      "--encode", "pix2pix"], ["pix2pix", "spade, clade, oasis, ids"]),
    ("probe-encode-without-factory", ["probe", "--model", "spade", "--encode", "oasis", *TINY],
     ["--encode", "--factory"]),
    ("probe-unknown-point", ["probe", "--model", "spade", "--points", "up_0,up9", *TINY],
     ["'up9'", "fc, head_0", "up_0"]),
    # complexity
    ("complexity-unknown-dataset", ["complexity", "--model", "spade", "--dataset", "cityscape"],
     ["cityscape", "cityscapes"]),
    # experiment: names, counts, checkpoint files (validated before anything is written)
    ("experiment-unknown-name", ["experiment", "table9"], ["table9", "table1"]),
    ("experiment-unknown-model", ["experiment", "table1", "--quick", "--models", "spadee"],
     ["spadee", "spade"]),
    ("experiment-negative-seed", ["experiment", "table1", "--quick", "--seed", "-1"],
     ["--seed", "-1", ">= 0"]),
    ("experiment-checkpoint-syntax", ["experiment", "table1", "--quick", "--checkpoint", "spade"],
     ["'spade'", "MODEL=PATH"]),
    ("experiment-readme-checkpoint", ["experiment", "table1", "--quick", "--checkpoint",
                                      "spade={readme}"],
     ["{readme}", "not a PyTorch checkpoint"]),
    ("experiment-truncated-checkpoint", ["experiment", "table1", "--quick", "--checkpoint",
                                         "spade={trunc_pt}"], ["{trunc_pt}", "truncated"]),
    ("experiment-empty-checkpoint", ["experiment", "table1", "--quick", "--checkpoint",
                                     "spade={empty_pt}"], ["{empty_pt}", "empty"]),
    ("experiment-malicious-checkpoint", ["experiment", "table1", "--quick", "--checkpoint",
                                         "spade={evil_pt}"],
     ["{evil_pt}", "full unpickling", "--trust-checkpoint"]),
    ("experiment-missing-checkpoint", ["experiment", "table1", "--quick", "--checkpoint",
                                       "spade={missing}"], ["{missing}", "does not exist"]),
    # main
    ("main-unknown-model", ["main", "--models", "spadee", "--out", "{out}"], ["spadee", "spade"]),
    ("main-zero-train-iters", ["main", "--train-iters", "0", "--out", "{out}"],
     ["--train-iters", "0", ">= 1"]),
    ("main-zero-samples", ["main", "--samples", "0", "--out", "{out}"], ["--samples", "0", ">= 1"]),
    ("main-negative-seed", ["main", "--seed", "-1", "--out", "{out}"], ["--seed", "-1", ">= 0"]),
    ("main-foreign-train-folder", ["main", "--quick", "--out", "{mainout}"],
     ["{mainout}/study/runs/scenes-study-quick/spade", "not a training run", "another --out"]),
    # variation: label ids outside the dataset, non-image files, missing folders
    ("variation-ids-out-of-range", ["variation", "--images", "{var_coco}/img", "--labels",
                                    "{var_coco}/lab", "--dataset", "scenes"],
     ["[150, 255]", "scenes", "--dataset"]),
    ("variation-non-image-file", ["variation", "--images", "{var_junk}/img", "--labels",
                                  "{var_junk}/lab", "--dataset", "scenes"],
     ["{var_junk}/img/notes.png", "not a readable image", "remove"]),
    ("variation-missing-folder", ["variation", "--images", "{missing}", "--labels",
                                  "{var_coco}/lab", "--dataset", "scenes"],
     ["{missing}", "does not exist"]),
    ("variation-unknown-dataset", ["variation", "--images", "{var_coco}/img", "--labels",
                                   "{var_coco}/lab", "--dataset", "coco"], ["coco", "coco-stuff"]),
    ("fid-unreadable-image", ["fid", "{img_bad}", "{img_two}"], ["not-an-image.png", "replace or remove"]),
    ("fid-one-image", ["fid", "{img_one}", "{img_two}"], ["{img_one}", "1 image", "at least 2"]),
    ("fid-npz-without-mu-sigma", ["fid", "{npz_empty}", "{img_two}"], ["{npz_empty}", "mu / sigma", "--save-stats"]),
    ("fid-prdc-with-npz", ["fid", "{npz_stats}", "{img_two}", "--prdc"], ["{npz_stats}", "is a .npz", "image folder"]),
    ("fid-prdc-too-few", ["fid", "{img_two}", "{img_two}", "--prdc"], ["k = 5", "at least 7", "--nearest-k"]),
    ("fid-missing-path", ["fid", "{missing_dir}", "{img_two}"], ["{missing_dir}", "folder of images"]),
    ("fid-save-stats-exists", ["fid", "{img_two}", "{img_two}", "--save-stats", "{npz_stats}"], ["{npz_stats}", "exists"]),
    ("fid-missing-weights", ["fid", "{img_two}", "{img_two}", "--weights", "{missing}"], ["{missing}", "--fid-weights PATH"]),
    ("fid-three-paths", ["fid", "{img_two}", "{img_two}", "{img_two}"], ["3", "one or two PATHs"]),
    # study
    ("study-seeds-text", ["study", "--profile", "quick", "--out", "{out}", "--seeds", "a,b"],
     ["--seeds", "'a,b'", "integers"]),
    ("study-seeds-repeated", ["study", "--profile", "quick", "--out", "{out}", "--seeds", "1,1"],
     ["--seeds", "'1,1'", "distinct"]),
    ("study-unknown-model", ["study", "--profile", "quick", "--out", "{out}", "--models", "spadee"],
     ["spadee", "spade"]),
    ("study-dataset-without-dataroot", ["study", "--out", "{out}", "--dataset", "cityscapes"],
     ["cityscapes", "--dataroot", "scenes"]),
    ("study-missing-dataroot", ["study", "--out", "{out}", "--dataset", "cityscapes", "--dataroot",
                                "{missing_dir}"], ["{missing_dir}", "folder that holds"]),
    ("study-out-is-a-file", ["study", "--profile", "quick", "--out", "{readme}"],
     ["{readme}", "another --out"]),
    ("study-foreign-run-folder", ["study", "--profile", "quick", "--out", "{studyout}"],
     ["{studyout}/runs/scenes-study-quick/spade", "not a training run", "another --out"]),
    ("study-torchscript-segmenter", ["study", "--profile", "quick", "--out", "{out}", "--segmenter",
                                     "{ts_segmenter}"], ["{ts_segmenter}", "--trust-segmenter"]),
    ("experiment-torchscript-segmenter", ["experiment", "table1", "--quick", "--out", "{out}",
                                          "--segmenter", "{ts_segmenter}"],
     ["{ts_segmenter}", "--trust-segmenter"]),
    ("study-zero-iters", ["study", "--profile", "quick", "--out", "{out}", "--iters", "0"],
     ["--iters", "0", ">= 1"]),
]

# -- rows: train, generate, variation --------------------------------------------------------
_TRAIN = ["train", "--model", "spade", "--out", "{out}", *TINY]
_GEN = ["generate", "--checkpoint", "{missing}", "--out", "{out}"]
ROWS_RUNS = [
    ("train-unknown-model", ["train", "--model", "spadee", "--out", "{out}"], ["spadee", "spade"]),
    ("train-unknown-dataset", [*_TRAIN, "--dataset", "cityscape"], ["cityscape", "cityscapes"]),
    ("train-no-model", ["train", "--out", "{out}"], ["--model", "--resume"]),
    ("train-size-zero", [*_TRAIN, "--size", "0x64"], ["--size", "0x64", "HxW"]),
    ("train-size-text", [*_TRAIN, "--size", "big"], ["--size", "big", "HxW"]),
    ("train-iters-zero", [*_TRAIN, "--iters", "0"], ["--iters", "0", ">= 1"]),
    ("train-iters-negative", [*_TRAIN, "--iters", "-5"], ["--iters", "-5", ">= 1"]),
    ("train-epochs-zero", [*_TRAIN, "--epochs", "0"], ["--epochs", "0", ">= 1"]),
    ("train-batch-size-zero", [*_TRAIN, "--batch-size", "0"], ["--batch-size", "0", ">= 1"]),
    ("train-batch-size-negative", [*_TRAIN, "--batch-size", "-1"], ["--batch-size", "-1", ">= 1"]),
    ("train-ckpt-every-zero", [*_TRAIN, "--ckpt-every", "0"], ["--ckpt-every", "0", ">= 1"]),
    ("train-size-batch-of-one", [*_TRAIN, "--size", "32x32", "--batch-size", "1"],
     ["32x32", "--batch-size 2"]),
    ("train-width-zero", [*_TRAIN, "--ngf", "0"], ["--ngf", "0", ">= 1"]),
    ("train-missing-dataroot", [*_TRAIN, "--dataset", "coco-stuff", "--dataroot", "{missing_dir}"],
     ["{missing_dir}", "folder that holds"]),
    ("train-dataroot-is-a-file", [*_TRAIN, "--dataset", "coco-stuff", "--dataroot", "{readme}"],
     ["{readme}", "not a folder"]),
    ("train-existing-out", ["train", "--model", "spade", "--out", "{run_dir}", *TINY],
     ["{run_dir}", "--resume", "another --out"]),
    ("train-resume-missing-folder", ["train", "--resume", "--out", "{missing_dir}"],
     ["{missing_dir}", "drop --resume"]),
    ("train-resume-no-checkpoint", ["train", "--resume", "--out", "{run_dir}"],
     ["{run_dir}", "step_*.pt", "drop --resume"]),
    ("generate-batch-size-zero", [*_GEN, "--batch-size", "0"], ["--batch-size", "0", ">= 1"]),
    ("generate-batch-size-negative", [*_GEN, "--batch-size", "-1"], ["--batch-size", "-1", ">= 1"]),
    ("generate-samples-zero", [*_GEN, "--samples", "0"], ["--samples", "0", ">= 1"]),
    ("generate-limit-zero", [*_GEN, "--limit", "0"], ["--limit", "0", ">= 1"]),
    ("generate-missing-checkpoint", _GEN, ["{missing}", "run folder or a .pt file"]),
    ("generate-existing-out", ["generate", "--checkpoint", "{missing}", "--out", "{run_dir}"],
     ["{run_dir}", "another --out"]),
    ("generate-missing-labels", [*_GEN, "--labels", "{missing_dir}"], ["{missing_dir}", "--labels"]),
    ("generate-unknown-dataset", [*_GEN, "--dataset", "cityscape"], ["cityscape", "cityscapes"]),
    ("generate-missing-dataroot", [*_GEN, "--dataroot", "{missing_dir}"],
     ["{missing_dir}", "folder that holds"]),
]

ROWS = ROWS_CORE + ROWS_RUNS


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*"))}


@pytest.mark.parametrize("argv, words", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_bad_input_gets_one_clear_line(tmp_path, monkeypatch, capsys, argv, words):
    files = bad_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    before = _tree(tmp_path)
    try:
        rc = main([a.format(**files) for a in argv])
    except SystemExit as exit_:  # argparse's own usage errors
        rc = exit_.code
    out, err = capsys.readouterr()
    # argparse prints its usage lines above its "prog: error: ..." line; ours print one line.
    lines = [line for line in err.splitlines() if "error:" in line]
    assert rc == 2, (rc, out, err)
    assert len(lines) == 1, err
    assert "Traceback" not in err + out
    for word in words:
        assert word.format(**files) in lines[0], (word, lines[0])
    assert not Path(files["pwned"]).exists(), "the malicious pickle ran"
    assert _tree(tmp_path) == before, "the failed command changed files on disk"
