"""A stage's process settings: quiet by default, the user's own environment respected."""
import subprocess
import sys

from tests.conftest import REPO

CODE = ("import os, huggingface_hub.constants as c\n"
        "from stages.lib.runtime.environment import quiet\n"
        "quiet(); print(os.environ['TOKENIZERS_PARALLELISM'], c.HF_HUB_DISABLE_TELEMETRY)")


def run(**env):
    base = {k: v for k, v in __import__("os").environ.items()
            if k not in ("TOKENIZERS_PARALLELISM", "HF_HUB_DISABLE_TELEMETRY")}
    return subprocess.run([sys.executable, "-c", CODE], cwd=REPO, env={**base, **env}, capture_output=True,
                          text=True, check=True).stdout.split()


def test_quiet_by_default_even_for_a_library_loaded_before():
    assert run() == ["false", "True"]


def test_the_users_environment_wins():
    assert run(TOKENIZERS_PARALLELISM="true", HF_HUB_DISABLE_TELEMETRY="0") == ["true", "False"]
