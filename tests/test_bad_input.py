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

import pytest

from vasis.cli import main

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--ngf", "4", "--hidden", "8"]


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
    # fid: image folders (two images, one image, one file that is no image), .npz statistics
    import numpy as np
    from PIL import Image
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
    files["missing_dir"] = str(root / "no-such-folder")
    return files


# -- rows: probe, classes, complexity, experiment, main -----------------------------------
ROWS_CORE = [
    ("probe-unknown-model", ["probe", "--model", "spadee"], ["spadee", "spade"]),
    ("probe-unknown-dataset", ["probe", "--model", "spade", "--dataset", "cityscape"], ["cityscape", "cityscapes"]),
    ("complexity-unknown-model", ["complexity", "--model", "nope"], ["nope", "spade"]),
    ("classes-unknown-dataset", ["classes", "--dataset", "nope"], ["nope", "cityscapes"]),
    ("fid-unreadable-image", ["fid", "{img_bad}", "{img_two}"], ["not-an-image.png", "replace or remove"]),
    ("fid-one-image", ["fid", "{img_one}", "{img_two}"], ["{img_one}", "1 image", "at least 2"]),
    ("fid-npz-without-mu-sigma", ["fid", "{npz_empty}", "{img_two}"], ["{npz_empty}", "mu / sigma", "--save-stats"]),
    ("fid-prdc-with-npz", ["fid", "{npz_stats}", "{img_two}", "--prdc"], ["{npz_stats}", "is a .npz", "image folder"]),
    ("fid-prdc-too-few", ["fid", "{img_two}", "{img_two}", "--prdc"], ["k = 5", "at least 7", "--nearest-k"]),
    ("fid-missing-path", ["fid", "{missing_dir}", "{img_two}"], ["{missing_dir}", "folder of images"]),
    ("fid-save-stats-exists", ["fid", "{img_two}", "{img_two}", "--save-stats", "{npz_stats}"], ["{npz_stats}", "exists"]),
    ("fid-missing-weights", ["fid", "{img_two}", "{img_two}", "--weights", "{missing}"], ["{missing}", "--fid-weights PATH"]),
    ("fid-three-paths", ["fid", "{img_two}", "{img_two}", "{img_two}"], ["3", "one or two PATHs"]),
]

# -- rows: train, generate, variation --------------------------------------------------------
ROWS_RUNS = [
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
