"""dvc.yaml tells the truth: each stage's deps list every project module its command imports, and nothing\nelse (a package folder only where the stage imports every module in it)."""
import ast
import json
import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.conftest import REPO

STAGES = YAML(typ="safe").load((REPO / "dvc.yaml").read_text())["stages"]


def imported_modules(source: str) -> set[str]:
    """Project modules (stages.*) that `source` imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}  # `from stages.lib import data`
    return {name for name in found if name.split(".")[0] == "stages" and module_file(name)}


def module_file(name: str) -> Path | None:
    path = REPO.joinpath(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def closure(sources: list[str]) -> set[str]:
    """Files (relative to the repository) of every project module reachable from `sources`."""
    seen: set[str] = set()
    todo = [m for s in sources for m in imported_modules(s)]
    while todo:
        name = todo.pop()
        path = module_file(name)
        rel = path.relative_to(REPO).as_posix()
        if rel in seen:
            continue
        seen.add(rel)
        todo.extend(imported_modules(path.read_text()))
    return {f for f in seen if not docstring_only(REPO / f)}


def docstring_only(path: Path) -> bool:
    """A package's __init__ that only says what the package holds: no code to depend on."""
    body = ast.parse(path.read_text()).body
    return path.name == "__init__.py" and all(isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) for n in body)


def code_files(dep: str) -> set[str]:
    """A code dependency's modules: the file, or every module of a declared package folder."""
    path = REPO / dep
    files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return {f.relative_to(REPO).as_posix() for f in files if not docstring_only(f)}


def notebook_code(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_deps_cover_every_imported_module(name):
    stage = STAGES[name].get("do", STAGES[name])
    module = re.search(r"-m (stages\.\w+)", stage["cmd"]).group(1)
    deps = [d for d in stage["deps"] if isinstance(d, str)]
    sources = [f"import {module}"] + [notebook_code(REPO / d) for d in deps if d.endswith(".ipynb")]
    needed = closure(sources)
    declared = set().union(*(code_files(d) for d in deps if d.startswith("stages/")))
    assert needed - declared == set(), f"{name}: imported but not in deps"
    assert declared - needed == set(), f"{name}: in deps but never imported"


def test_no_stage_imports_another_stage():
    for path in (REPO / "stages").glob("*.py"):
        others = {m for m in imported_modules(path.read_text()) if not m.startswith("stages.lib")}
        assert others == set(), f"{path.name} imports {others}"
