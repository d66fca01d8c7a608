"""dvc.yaml tells the truth: each stage's deps list every project module its command imports."""
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
    return {f for f in seen if not f.endswith("__init__.py") or Path(REPO / f).stat().st_size}


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
    declared = {d for d in deps if d.startswith("stages/") and d.endswith(".py")}
    assert needed - declared == set(), f"{name}: imported but not in deps"
    assert declared - needed == set(), f"{name}: in deps but never imported"


def test_no_stage_imports_another_stage():
    for path in (REPO / "stages").glob("*.py"):
        others = {m for m in imported_modules(path.read_text()) if not m.startswith("stages.lib")}
        assert others == set(), f"{path.name} imports {others}"
