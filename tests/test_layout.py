"""The package's shape (docs/architecture.rst): imports run one way between floors, there are no
import circles, no module imports another module's private names, and no function-level
import of an xgamma module dodges a circle (the only ones allowed are marked ``# lazy:`` and
load an optional or heavy dependency, or a deprecated alias).

Read with ``ast`` from the source files, so the test fails as soon as a circle comes back.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "xgamma"

#: Floor of each top-level module or subpackage: a module may import its own floor (acyclic)
#: and the floors below, never above.
FLOORS: dict[str, int] = {
    "version": 0, "errors": 0, "_paths": 0, "conventions": 1, "axes": 2, "stats": 2,
    "compute": 2, "obs": 2, "config": 2, "download": 2, "times": 2,
    "sky": 3, "irf": 4, "models": 5, "io": 6, "reduction": 7, "fitting": 8, "estimators": 9, "simulation": 9,
    "catalogs": 10, "testing": 10, "plot": 4, "accessors": 10, "analysis": 11, "cli": 12,
}
#: Deprecated old paths (one release): they forward to the new modules.
SHIMS = {"sky_regions", "background", "safe_mask", "reflected", "spectrum", "stacking", "events",
         "binning", "fold", "fold_map", "io.sed", "models.sky"}


def _modules() -> dict[str, Path]:
    out = {}
    for f in ROOT.rglob("*.py"):
        parts = list(f.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(["xgamma", *parts])] = f
    return out


MODS = _modules()


def _resolve(mod: str, is_pkg: bool, level: int, name: str | None) -> str:
    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def _imports(mod: str) -> list[tuple[str, str, bool, str]]:
    """(target module, imported name, inside a function, source line) of each xgamma import."""
    f = MODS[mod]
    src = f.read_text()
    tree = ast.parse(src)
    inner: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            inner |= {id(n) for n in ast.walk(node) if n is not node}
    lines = src.splitlines()
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            tgt = (_resolve(mod, f.name == "__init__.py", node.level, node.module) if node.level
                   else node.module or "")
            if not tgt.startswith("xgamma"):
                continue
            for a in node.names:
                sub = f"{tgt}.{a.name}"
                out.append((sub if sub in MODS else tgt, a.name, id(node) in inner,
                            lines[node.lineno - 1]))
        elif isinstance(node, ast.Import):
            out += [(a.name, "", id(node) in inner, lines[node.lineno - 1])
                    for a in node.names if a.name.startswith("xgamma")]
    return out


def _floor(mod: str) -> int | None:
    parts = mod.split(".")
    if len(parts) < 2:
        return None
    return FLOORS.get(parts[1])


def _is_shim(mod: str) -> bool:
    return mod.removeprefix("xgamma.") in SHIMS


def test_every_module_has_a_floor():
    assert [m for m in MODS if m != "xgamma" and _floor(m) is None and not _is_shim(m)] == []


def test_no_private_names_across_modules():
    bad = [f"{m} <- {t}.{n}" for m in MODS for t, n, _, _ in _imports(m)
           if n.startswith("_") and not n.startswith("__") and t != m]
    assert bad == []


def test_imports_go_down_the_floors():
    bad = []
    for m in MODS:
        if m == "xgamma" or _is_shim(m) or m.endswith("__init__"):
            continue
        fm = _floor(m)
        for t, _, _, line in _imports(m):
            ft = _floor(t)
            if t != "xgamma" and ft is not None and fm is not None and ft > fm:
                bad.append(f"{m} (floor {fm}) imports {t} (floor {ft}): {line.strip()}")
    assert bad == []


def test_no_import_circles():
    def is_pkg(m: str) -> bool:
        return MODS[m].name == "__init__.py"

    graph = {m: {t for t, _, _, _ in _imports(m) if t in MODS and t != m and not is_pkg(t)}
             for m in MODS if not is_pkg(m)}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(v: str, path: list[str]) -> None:
        state[v] = 1
        for w in sorted(graph.get(v, ())):
            if state.get(w) == 1:
                cycles.append(path[path.index(w):] + [w] if w in path else [v, w])
            elif w not in state:
                visit(w, [*path, w])
        state[v] = 2

    for v in sorted(graph):
        if v not in state:
            visit(v, [v])
    assert cycles == []


def test_function_level_imports_are_marked_lazy():
    bad = [f"{m}: {line.strip()}" for m in MODS for t, _, inner, line in _imports(m)
           if inner and "# lazy" not in line]
    assert bad == []


@pytest.mark.parametrize("old, name", [("xgamma.fold", "fake"), ("xgamma.background", "fov_background"),
                                       ("xgamma.sky_regions", "contains"),
                                       ("xgamma.io.sed", "read_sed")])
def test_old_paths_warn_and_forward(old, name):
    import importlib
    import sys

    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match="moved to"):
        mod = importlib.import_module(old)
    assert callable(getattr(mod, name))


def test_top_level_functions_do_not_shadow_modules():
    import xgamma as xg

    # xg.fit, xg.reduce and xg.reduce_many are functions; no module (not even a deprecated
    # alias, whose import would rebind the package attribute) carries their names
    for name in ("fit", "reduce", "reduce_many"):
        assert callable(getattr(xg, name))
        assert not (ROOT / f"{name}.py").exists()
