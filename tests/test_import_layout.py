"""The package layout as the README states it: imports only go down (vasis < analysis <
experiments < vasis_suite), no import circle (function-level imports counted), and a function-level
import only with a ``# local:`` comment saying why (an optional or heavy dependency)."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LEVELS = ("vasis", "analysis", "experiments", "vasis_suite")   # each may import only those before


def modules(root: Path) -> dict[str, tuple[Path, bool]]:
    out = {}
    for pkg in LEVELS:
        for p in (root / pkg).rglob("*.py"):
            parts = list(p.relative_to(root).with_suffix("").parts)
            is_pkg = parts[-1] == "__init__"
            out[".".join(parts[:-1] if is_pkg else parts)] = (p, is_pkg)
    return out


def _targets(mod: str, is_pkg: bool, node, mods) -> list[str]:
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = mod.split(".") if is_pkg else mod.split(".")[:-1]
        base = base[: len(base) - node.level + 1] if node.level else []
        target = ".".join(base + ([node.module] if node.module else []))
        names = [target] + [f"{target}.{a.name}" for a in node.names]
    out = set()
    for name in names:   # importing a.b.c runs a, a.b and a.b.c
        parts = name.split(".")
        out.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return sorted(t for t in out if t in mods and t != mod)


def import_graph(root: Path):
    """{module: imported modules} (a module's own parent packages left out: they are already
    being imported) and the function-level imports without a ``# local:`` reason."""
    mods = modules(root)
    graph, unexplained = {m: set() for m in mods}, []
    for m, (path, is_pkg) in mods.items():
        lines = path.read_text().splitlines()
        tree = ast.parse("\n".join(lines))
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for n in ast.walk(fn):
                    if isinstance(n, (ast.Import, ast.ImportFrom)) and not any(
                            "# local:" in line for line in lines[fn.lineno - 1:n.lineno - 1]):
                        unexplained.append(f"{path.relative_to(root)}:{n.lineno}")
        for n in ast.walk(tree):
            if isinstance(n, (ast.Import, ast.ImportFrom)):
                graph[m].update(t for t in _targets(m, is_pkg, n, mods)
                                if not m.startswith(t + "."))
    return graph, sorted(set(unexplained))


def circles(graph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while not comp or comp[-1] != v:
                comp.append(stack.pop())
                on.discard(comp[-1])
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def upward(graph) -> list[str]:
    level = {name: i for i, name in enumerate(LEVELS)}
    return sorted(f"{m} -> {t}" for m, ts in graph.items() for t in ts
                  if level[t.split(".")[0]] > level[m.split(".")[0]])


def test_the_tree_has_no_circle_no_upward_import_and_no_unexplained_local_import():
    graph, unexplained = import_graph(ROOT)
    assert len(graph) > 50 and sum(map(len, graph.values())) > 100   # the tree was read
    assert circles(graph) == []
    assert upward(graph) == []
    assert unexplained == []


def test_the_checks_find_a_circle_an_upward_import_and_a_silent_local_import(tmp_path):
    files = {
        "vasis/__init__.py": "",
        "vasis/a.py": "from . import b\n",
        "vasis/b.py": "def f():\n    from . import a\n",            # a circle dodged locally
        "vasis/c.py": "import analysis.x\n",                         # the model package looks up
        "analysis/__init__.py": "",
        "analysis/x.py": "def g():\n    # local: optional\n    import prdc\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    for pkg in ("experiments", "vasis_suite"):
        (tmp_path / pkg).mkdir()
    graph, unexplained = import_graph(tmp_path)
    assert circles(graph) == [["vasis.a", "vasis.b"]]
    assert upward(graph) == ["vasis.c -> analysis", "vasis.c -> analysis.x"]
    assert unexplained == ["vasis/b.py:2"]
