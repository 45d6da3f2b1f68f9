"""Execute every notebook in notebooks/ top to bottom (nbclient) with this interpreter's kernel."""
import importlib.util
import json
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
KERNEL = "vasis-test"


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory):
    """A kernelspec that runs ipykernel with ``sys.executable`` (the venv's python), found first
    through JUPYTER_PATH, whatever kernels the user has installed."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "vasis-suite test", "language": "python"}))
    return root


def test_there_are_notebooks():
    assert [p.name for p in NOTEBOOKS] == ["01_padding_and_kernel_probing.ipynb",
                                           "02_per_block_std.ipynb", "03_variation_metrics.ipynb",
                                           "04_probe_your_generator.ipynb"]


def execute(nb, cwd: Path) -> list[str]:
    """Run every cell (errors do not stop the run: each cell's error is collected) and return
    one line per failing cell, naming it and its error."""
    client = nbclient.NotebookClient(nb, kernel_name=KERNEL, timeout=180, allow_errors=True,
                                     resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return [f"cell {i}: {o.ename}: {o.evalue}" for i, c in enumerate(nb.cells)
            if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]


@pytest.fixture
def kernel_env(kernel_dir, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", str(kernel_dir))
    monkeypatch.setenv("MPLBACKEND", "Agg")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, kernel_env):
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), \
        f"{path.name} has committed outputs; regenerate with notebooks/make_notebooks.py"
    errors = execute(nb, path.parent)
    assert not errors, errors


def test_a_failing_cell_is_reported(kernel_env, tmp_path):
    """The check above can fail: a cell that raises (here an assertion like the ones the
    notebooks make about their own numbers) is reported, and later cells still run."""

    cell = nbformat.v4.new_code_cell
    nb = nbformat.v4.new_notebook(cells=[cell("x = 1"), cell("assert x == 2, 'x is 1'"),
                                         cell("y = x + 1")])
    assert execute(nb, tmp_path) == ["cell 1: AssertionError: x is 1"]
    assert nb.cells[2].outputs == [] and nb.cells[2].execution_count == 3


def test_notebooks_match_their_generator(tmp_path, monkeypatch):
    """The committed .ipynb files are what notebooks/make_notebooks.py writes."""

    spec = importlib.util.spec_from_file_location("make_notebooks", NOTEBOOKS[0].parent / "make_notebooks.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.setattr(mod, "HERE", tmp_path)
    mod.main()
    for path in NOTEBOOKS:
        assert (tmp_path / path.name).read_text() == path.read_text(), \
            f"{path.name} differs from its generator; run notebooks/make_notebooks.py"


def test_notebook_01_shows_a_constant_map_as_constant(kernel_env):
    """Reflect padding + one class gives a constant image: it is titled as constant (as the
    text says) and drawn flat, not contrast-stretched into saturated colour."""

    path = NOTEBOOKS[0]
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import json, numpy as np\n"
        "drawn = {s: float(np.asarray(axes[0, c].get_images()[0].get_array(), dtype=float)"
        ".std((0, 1)).max()) for c, s in enumerate(copies, 1)}\n"
        "print(json.dumps({'titles': {s: titles['one-class', s] for s in copies}, 'drawn': drawn}))"))
    assert execute(nb, path.parent) == []
    result = json.loads(nb.cells[-1].outputs[0]["text"])
    for setting in ("reflect k3", "reflect k1"):
        assert result["titles"][setting] == "constant (std < 1e-06)", result
        assert result["drawn"][setting] < 1e-6, result         # flat on screen, too
    for setting in ("zero k3", "zero k1"):
        assert result["titles"][setting].startswith("std "), result
        assert result["drawn"][setting] > 0.01, result         # the border effect is visible
    reading = next(c.source for c in nb.cells if c.source.startswith("**Reading.** One class"))
    assert "constant" in reading and "(std 0)" not in reading
