import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_diff_table_between_two_commits(tmp_path):
    env = {**os.environ, "DVC_NO_ANALYTICS": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e"}

    def run(*cmd):
        return subprocess.run(cmd, cwd=tmp_path, env=env, check=True, capture_output=True, text=True).stdout

    run("git", "init", "-q", "-b", "main")
    run("dvc", "init", "-q")
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  train:\n    cmd: 'true'\n    params: [lr]\n    metrics:\n"
        "      - metrics/m.json:\n          cache: false\n")
    (tmp_path / "metrics").mkdir()
    for lr, f1 in [(2e-5, 0.8), (5e-5, 0.85)]:
        (tmp_path / "params.yaml").write_text(f"lr: {lr}\n")
        (tmp_path / "metrics/m.json").write_text(json.dumps({"test_f1": f1}))
        run("git", "add", "-A")
        run("git", "commit", "-qm", f"lr {lr}")
    out = re.sub(r" +", " ", run(sys.executable, str(REPO / "tools/metrics_diff.py"), "HEAD~1"))
    assert "## Metrics against `HEAD~1`" in out
    assert "| metrics/m.json | test_f1 | 0.8 | 0.85 | 0.05 |" in out
    assert "| params.yaml | lr | 2e-05 | 5e-05 |" in out
