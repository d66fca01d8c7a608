"""The process settings a stage runs with, set when it starts (stages.lib.config.params.stage_main), not
on import: no Hugging Face telemetry and no tokenizers fork warnings, unless the user's environment
says otherwise."""
from __future__ import annotations

import os
import sys


def quiet() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # read when tokenizers first parallelises
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    # huggingface_hub reads the variable on import: where a stage's imports loaded it, apply it there
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_DISABLE_TELEMETRY = os.environ["HF_HUB_DISABLE_TELEMETRY"].upper() in constants.ENV_VARS_TRUE_VALUES
