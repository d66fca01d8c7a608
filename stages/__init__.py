"""The pipeline's stages, one module per DVC stage (`python -m stages.<name>`); shared code in stages.lib.

Started by a Python without the project's packages (say `.venv/bin/dvc repro` with the venv not on
PATH, so the stages' `python` is another one), a stage stops here with one line saying how to run
it, instead of a traceback about a missing module. This checks the interpreter only: it reads no
params and changes no output, so no stage lists it among its dependencies.
"""
import importlib.util
import sys

_missing = next((m for m in ("pydantic", "ruamel", "pyarrow", "numpy", "torch", "transformers", "datasets")
                 if importlib.util.find_spec(m) is None), None)
if _missing:
    print(f"error: {sys.executable} lacks the project's packages (no module {_missing!r}); run the pipeline "
          "with the project's environment: `make repro`, or `source .venv/bin/activate` before `dvc repro`",
          file=sys.stderr)
    sys.exit(2)
