"""Reading params.yaml, selecting the profile, and turning bad input into one clear error."""
from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Any, Callable

PARAMS_FILE = Path("params.yaml")

# No telemetry, no prompts: set before any Hugging Face or DVC library is imported by a stage.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("WANDB_DISABLED", "true")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class PipelineError(Exception):
    """A problem the user can fix (bad params, missing data, unreachable model): no traceback."""


def load_params(path: Path = PARAMS_FILE) -> dict:
    """params.yaml read with YAML 1.2 rules, as DVC reads and writes it (ruamel.yaml): `dvc exp run
    -S lr=3e-5` writes `3e-05`, a number in YAML 1.2 but a string to YAML 1.1 readers (PyYAML)."""
    from ruamel.yaml import YAML, YAMLError

    try:
        with open(path, encoding="utf-8") as f:
            params = YAML(typ="safe", pure=True).load(f)
    except FileNotFoundError:
        raise PipelineError(f"{path}: not found (run stages from the repository root)") from None
    except YAMLError as e:
        raise PipelineError(f"{path}: not valid YAML: {' '.join(str(e).split())}") from None
    if not isinstance(params, dict):
        raise PipelineError(f"{path}: expected a mapping at the top level")
    return params


def select_profile(params: dict) -> tuple[str, dict]:
    """The profile named by `profile:`, as (name, section)."""
    name = params.get("profile")
    profiles = params.get("profiles") or {}
    if name not in profiles:
        raise PipelineError(
            f"params.yaml: profile: {name!r} is not defined; accepted values: {', '.join(profiles)}")
    return name, profiles[name]


def require(section: dict, key: str, where: str, check: Callable[[Any], bool], accepted: str) -> Any:
    """Return section[key], or raise a PipelineError naming the parameter and what it accepts."""
    if key not in section:
        raise PipelineError(f"params.yaml: {where}.{key} is missing ({accepted})")
    value = section[key]
    try:
        ok = check(value)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise PipelineError(f"params.yaml: {where}.{key} = {value!r} is invalid; accepted: {accepted}")
    return value


def is_positive_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0


def is_positive_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def is_optional_positive_int(v: Any) -> bool:
    return v is None or is_positive_int(v)


def require_model(section: dict, key: str, where: str) -> str:
    """A model param: a Hugging Face Hub id or a local folder (resolved by stages.lib.models)."""
    return require(section, key, where, lambda v: isinstance(v, str) and v != "",
                   "a Hugging Face Hub id or a local folder")


def stage_main(fn: Callable[..., None]) -> Callable[..., None]:
    """Run a stage's main(): a PipelineError prints one line and exits with status 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except PipelineError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)

    return wrapper
