"""Reading params.yaml, validating a section of it against a type (stages.lib.config.settings holds them),
and a user's error as one clear line: `params.yaml: fine_tune.learning_rate = -1 is
invalid; accepted: a positive number, e.g. 2.0e-5`."""
from __future__ import annotations

import functools
import sys
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Callable, Literal

from pydantic import BaseModel, TypeAdapter, ValidationError

from stages.lib.runtime import environment
from stages.lib.runtime.errors import PipelineError

PARAMS_FILE = Path("params.yaml")
CONF_DIR = Path("conf")  # what `dvc exp run` composes params.yaml from (Hydra)


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


def load_profile(name: str | None = None, conf: Path = CONF_DIR) -> dict:
    """params.yaml; or, given a profile name, the params `dvc exp run -S profile=<name>` would compose
    from conf/ (for tools that run a profile without switching the workspace to it)."""
    if name is None:
        return load_params()
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf

    try:
        with initialize_config_dir(str(conf.resolve()), version_base=None):
            return OmegaConf.to_container(compose("config", [f"profile={name}"]), resolve=True)
    except HydraException as e:
        raise PipelineError(f"{conf}: {' '.join(str(e).split())}") from None


def validate(kind, value: Any, where: str, file: Path = PARAMS_FILE):
    """`value` as `kind` (a model or an annotated type), or a PipelineError naming the param (in `file`)."""
    try:
        return TypeAdapter(kind).validate_python(value)
    except ValidationError as e:
        raise PipelineError(f"{file}: {_one_line(kind, value, where, e.errors()[0])}") from None


def _one_line(kind, value: Any, where: str, error: dict) -> str:
    loc = list(error["loc"])
    if error["type"] in ("extra_forbidden", "unknown_keys"):
        parent = loc[:-1] if error["type"] == "extra_forbidden" else loc
        fields = _field(kind, parent)[0]
        keys = error.get("ctx", {}).get("keys") or [loc[-1]]
        accepted = error.get("ctx", {}).get("accepted") or list(fields.model_fields if fields else [])
        return f"{_path(where, parent)}: unknown key(s) {', '.join(keys)}; accepted: {', '.join(accepted)}"
    if any(isinstance(part, int) for part in loc):  # an item of a list: name the list, show it whole
        loc = loc[:next(i for i, part in enumerate(loc) if isinstance(part, int))]
    accepted = error.get("ctx", {}).get("accepted") or _field(kind, loc)[1]
    path = _path(where, loc)
    if error["type"] == "missing":
        return f"{path} is missing ({accepted})"
    for part in loc:
        value = value[part]
    if error["type"] == "rule":
        return f"{path} {error['msg']}"
    return f"{path} = {value!r} is invalid; accepted: {accepted}"


def _path(where: str, loc: list) -> str:
    return ".".join([where, *map(str, loc)]) if where else ".".join(map(str, loc))


def _field(kind, loc: list) -> tuple[type | None, str]:
    """(the model at `loc`, the accepted-values text of the field there)."""
    text, current = "", kind
    for part in loc:
        model = _model_in(current)
        if model is None or part not in model.model_fields:
            return None, text
        info = model.model_fields[part]
        text, current = info.description or _describe(info.annotation), info.annotation
    model = _model_in(current)
    return model, text or _describe(current)


def _model_in(kind) -> type[BaseModel] | None:
    """The model inside `kind` (itself, dict values, an Optional)."""
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return kind
    args = typing.get_args(kind)
    if typing.get_origin(kind) is dict:
        return _model_in(args[1])
    return next((m for m in map(_model_in, args) if m), None)


def _describe(kind) -> str:
    """The accepted-values text of a type: its Field description, else one made from the type."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is Annotated:  # the outermost description wins
        return next((m.description for m in reversed(args[1:]) if getattr(m, "description", None)),
                    None) or _describe(args[0])
    if kind is bool:
        return "true | false"
    if origin is Literal:
        return " | ".join(map(str, args))
    if origin in (typing.Union, types.UnionType):
        return _describe(next(a for a in args if a is not type(None)))
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return f"a mapping with keys {', '.join(kind.model_fields)}"
    return getattr(kind, "__name__", str(kind))


def section(params: dict, path: str, kind):
    """The section at dotted `path` of params, validated as `kind`."""
    value: Any = params
    for i, key in enumerate(path.split(".")):
        if not isinstance(value, dict) or key not in value:
            parent = ".".join(path.split(".")[:i]) or "params.yaml"
            accepted = _field(kind, [])[1] or "see params.yaml"
            raise PipelineError(f"params.yaml: {path} is missing ({accepted})" if isinstance(value, dict)
                                else f"params.yaml: {parent} is not a mapping")
        value = value[key]
    return validate(kind, value, path)


def profile_name(params: dict) -> str:
    """The profile params.yaml was composed from (conf/profile/<name>.yaml), for what runs print and cards say."""
    name = params.get("profile")
    if not isinstance(name, str) or not name:
        raise PipelineError("params.yaml: profile is missing (params.yaml is composed from conf/ by `dvc exp run`; "
                            "see docs/profiles-and-experiments.md)")
    return name


def stage_main(fn: Callable[..., None]) -> Callable[..., None]:
    """Run a stage's main() in a quiet environment (stages.lib.runtime.environment): a PipelineError
    prints one line and exits with status 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        environment.quiet()
        try:
            return fn(*args, **kwargs)
        except PipelineError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)

    return wrapper
