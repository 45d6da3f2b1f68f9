"""``run_analysis.py probe`` through the CLI at tiny widths (hidden --ngf/--hidden flags)."""
import json

import pytest

from analysis.study import TINY as TINY_WIDTHS
from helpers import every
from vasis_suite.cli import main

TINY = [a for k, v in TINY_WIDTHS.items() for a in (f"--{k}", str(v))]
FIELDS = {"model", "layout", "padding", "kernel", "block_kernel", "block", "statistic", "value"}


def probe(capsys, *args):
    rc = main(["probe", *map(str, args)])
    out, err = capsys.readouterr()
    return rc, out, err


def records(capsys, *args):
    rc, out, err = probe(capsys, *args, "--format", "json", *TINY)
    assert rc == 0, err
    data = json.loads(out)
    assert isinstance(data, list) and data
    return data


def rel(data, stat="spatial_std"):
    """{block: statistic / rms} of the whole-map rows."""
    val = {(r["block"], r["statistic"]): r["value"] for r in data if r["class"] is None}
    blocks = dict.fromkeys(r["block"] for r in data)
    return {b: val[(b, stat)] / val[(b, "rms")] for b in blocks}


def test_json_fields_and_statistics(capsys):
    data = records(capsys, "--model", "spade", "--layout", "two-class", "--samples", "2",
                   "--padding", "zero", "--kernel", "1")
    assert every(FIELDS <= set(r) for r in data)
    assert {r["statistic"] for r in data} >= {"spatial_std", "sample_std", "rms"}
    assert {r["model"] for r in data} == {"spade"} and {r["layout"] for r in data} == {"two-class"}
    assert {r["padding"] for r in data} == {"zero"} and {r["kernel"] for r in data} == {1}
    assert {r["class_name"] for r in data if r["statistic"] == "class_spatial_std"} == {"sky", "ground"}


@pytest.mark.parametrize("model", ["spade", "clade", "oasis"])
def test_reflect_one_class_is_flat_zero_is_not(capsys, model):
    flat = rel(records(capsys, "--model", model, "--padding", "reflect", "--samples", "2"))
    assert every(v < 1e-5 for v in flat.values()), flat
    border = rel(records(capsys, "--model", model, "--padding", "zero", "--samples", "2"))
    assert every(v > 1e-3 for v in border.values()), border


def test_va_model_varies_in_every_residual_block(capsys):
    data = records(capsys, "--model", "va-clade", "--padding", "reflect", "--samples", "2",
                   "--classes", "1")
    spatial, sample = rel(data), rel(data, "sample_std")
    blocks = [b for b in spatial if b != "fc"]
    assert every(spatial[b] > 1e-3 and sample[b] > 1e-3 for b in blocks), (spatial, sample)


def test_block_kernel_swap_changes_clade_and_keeps_reflect_flat(capsys):
    base = records(capsys, "--model", "clade", "--layout", "two-class", "--samples", "2")
    k1 = records(capsys, "--model", "clade", "--layout", "two-class", "--samples", "2",
                 "--block-kernel", "1")
    assert {r["block_kernel"] for r in base} == {3} and {r["block_kernel"] for r in k1} == {1}
    a, b = rel(base), rel(k1)
    assert max(abs(a[k] - b[k]) / a[k] for k in a if k != "fc") > 1e-3
    assert a["fc"] == b["fc"]  # the stem is not a block conv
    # 'sum' surgery: a uniform class under reflect padding stays exactly flat.
    flat = rel(records(capsys, "--model", "spade", "--padding", "reflect", "--samples", "2",
                       "--block-kernel", "1"))
    assert every(v < 1e-5 for v in flat.values()), flat


def test_text_output(capsys):
    rc, out, _ = probe(capsys, "--model", "clade", "--samples", "2", *TINY)
    assert rc == 0
    assert out.startswith("# probe clade") and "spatial_std" in out and "up_3" in out


@pytest.mark.parametrize("args, needle", [
    (["--model", "spade", "--classes", "skyy"], "unknown class name 'skyy'"),
    (["--model", "spade", "--layout", "two-class", "--classes", "sky"], "takes two classes"),
    (["--model", "nope"], "unknown --model 'nope'"),
    (["--model", "spade", "--checkpoint", "/no/such/file.pth"], "does not exist"),
    (["--checkpoint", "/no/such/file.pth"], "does not exist"),
    (["--classes", "sky"], "--model"),
    (["--model", "spade", "--size", "12xabc"], "bad size"),
    (["--model", "spade", "--size", "100x100"], "multiple of 32"),
    (["--model", "spade", "--layout", "three-class"], "unknown --layout"),
    (["--model", "spade", "--padding", "circular"], "unknown --padding"),
    (["--model", "spade", "--block-kernel", "5"], "unknown --block-kernel '5'"),
    (["--model", "spade", "--samples", "x"], "--samples must be an integer"),
    # Messages name what was given and the command-line fix (not an id or a Python function).
    (["--model", "spade", "--layout", "two-class", "--classes", "sky,sky"],
     "--classes sky,sky names class id 1 twice"),
    (["--model", "spade", "--layout", "two-class", "--classes", "sky,sky"], "--layout one-class"),
    (["--model", "spade", "--seed", "-1"], "--seed must be >= 0, got -1"),
    (["--model", "spade", "--samples", "0"], "--samples must be >= 1, got 0"),
])
def test_errors_are_one_line_exit_2(capsys, args, needle):
    rc, out, err = probe(capsys, *args, *TINY)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert needle in lines[0]
    assert "Traceback" not in err


def test_argparse_errors_of_probe_are_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["probe", "--model"])  # --model without a value
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error:")
