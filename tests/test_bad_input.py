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
