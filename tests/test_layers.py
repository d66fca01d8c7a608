"""stages/lib is a stack of subpackages by concern: each imports only from those before it in the
order its __init__ states, a task never imports another task, and no library module imports a stage."""
import ast
import re

import pytest

from tests.conftest import REPO

LIB = REPO / "stages/lib"
ORDER = re.search(r"^(\w+(?: → \w+)+)$", (LIB / "__init__.py").read_text(), flags=re.M).group(1).split(" → ")


def project_imports(path):
    """(line, imported module) for every stages.* import in `path`, at the top or inside functions."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, a.name) for a in node.names if a.name.startswith("stages"))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("stages"):
            yield node.lineno, node.module


def test_the_order_names_every_subpackage_and_each_says_what_it_holds():
    packages = sorted(p.name for p in LIB.iterdir() if (p / "__init__.py").is_file())
    assert sorted(ORDER) == packages
    for name in packages:
        assert ast.get_docstring(ast.parse((LIB / name / "__init__.py").read_text())), f"{name}/__init__.py"
    assert not [p.name for p in LIB.glob("*.py") if p.name != "__init__.py"], "a module outside the subpackages"


@pytest.mark.parametrize("path", sorted(LIB.rglob("*.py")), ids=lambda p: p.relative_to(LIB).as_posix())
def test_imports_go_down_the_stack(path):
    here = path.relative_to(LIB).parts
    if len(here) == 1:
        return
    for line, module in project_imports(path):
        parts = module.split(".")
        where = f"{path.relative_to(REPO)}:{line} imports {module}"
        assert parts[:2] == ["stages", "lib"] and len(parts) > 2, where + " (a stage, or the library as a whole)"
        assert ORDER.index(parts[2]) <= ORDER.index(here[0]), where + f" (after {here[0]} in the order)"
        if here[0] == parts[2] == "tasks" and len(parts) > 3:
            assert parts[3] == here[1].removesuffix(".py"), where + " (another task: a task is a module or a package)"


def test_modules_stay_small():
    sizes = {p.relative_to(REPO).as_posix(): len(p.read_text().splitlines()) for p in (REPO / "stages").rglob("*.py")}
    assert {p: n for p, n in sizes.items() if n > 300} == {}


def test_importing_the_stages_changes_no_environment_variable():
    """Settings a stage runs with are made when it runs (stage_main), not as a side effect of an import."""
    import subprocess
    import sys

    stages = sorted(p.stem for p in (REPO / "stages").glob("*.py") if p.stem != "__init__")
    # the libraries set some of their own on import (torch: KMP_*): the baseline is after them
    code = ("import os, importlib, torch, transformers, datasets, setfit, huggingface_hub; before = dict(os.environ)\n"
            f"for name in {stages!r}: importlib.import_module('stages.' + name)\n"
            "print(sorted(k for k in os.environ if os.environ[k] != before.get(k)))")
    env = {k: v for k, v in __import__("os").environ.items()
           if k not in ("TOKENIZERS_PARALLELISM", "HF_HUB_DISABLE_TELEMETRY")}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
