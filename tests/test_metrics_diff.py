import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import REPO
from tools.metrics_diff import MARKER, figures

ENV = {**os.environ, "DVC_NO_ANALYTICS": "1",
       "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
       "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e"}
WORKFLOW = REPO / ".github/workflows/metrics-diff.yml"


def runner(cwd, env=ENV):
    def run(*cmd):
        return subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout
    return run


def commit(run, tmp_path, files: dict[str, bytes | None], message: str):
    """Write (or, for None, delete) the files, then commit everything."""
    for name, data in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if data is None:
            path.unlink()
        else:
            path.write_bytes(data)
    run("git", "add", "-A")
    run("git", "commit", "-qm", message)
    return run("git", "rev-parse", "HEAD").strip()


def image(repo, sha, path):
    return f"![{path} at {sha[:7]}](https://github.com/{repo}/raw/{sha}/{path})"


def test_diff_table_between_two_commits(tmp_path):
    run = runner(tmp_path)
    run("git", "init", "-q", "-b", "main")
    run("dvc", "init", "-q")
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  train:\n    cmd: 'true'\n    params: [lr]\n    metrics:\n"
        "      - metrics/m.json:\n          cache: false\n")
    for lr, f1 in [(2e-5, 0.8), (5e-5, 0.85)]:
        head = commit(run, tmp_path, {"params.yaml": f"lr: {lr}\n".encode(),
                                      "metrics/m.json": json.dumps({"test_f1": f1}).encode(),
                                      "reports/frontier.png": f"png {f1}".encode()}, f"lr {lr}")
    out = re.sub(r" +", " ", run(sys.executable, str(REPO / "tools/metrics_diff.py"), "HEAD~1",
                                 "--head", head, "--repo", "o/r", "--head-repo", "fork/r"))
    assert out.startswith(MARKER + "\n")  # how the workflow finds its comment to edit
    assert "## Metrics against `HEAD~1`" in out
    assert "| metrics/m.json | test_f1 | 0.8 | 0.85 | 0.05 |" in out
    assert "| params.yaml | lr | 2e-05 | 5e-05 |" in out
    assert "## Figures against `HEAD~1`" in out
    assert image("fork/r", head, "reports/frontier.png") in out  # the PR's figure, in the fork


def test_figures_side_by_side_pinned_to_both_commits(tmp_path, monkeypatch):
    run = runner(tmp_path)
    run("git", "init", "-q", "-b", "main")
    sweep, frontier = "reports/freeze_sweep.png", "reports/frontier.png"
    first = commit(run, tmp_path, {sweep: b"sweep 1"}, "sweep only")
    second = commit(run, tmp_path, {frontier: b"frontier"}, "frontier added, sweep as it was")
    third = commit(run, tmp_path, {sweep: b"sweep 2", frontier: None}, "sweep changed, frontier removed")
    monkeypatch.chdir(tmp_path)

    assert figures("HEAD~2", "HEAD~1", "o/r", "o/r").splitlines() == [
        f"| | `HEAD~2` {first[:7]} | this PR {second[:7]} |", "|---|---|---|",
        f"| `{sweep}`<br>_unchanged_ | {image('o/r', first, sweep)} | {image('o/r', second, sweep)} |",
        f"| `{frontier}` | _missing_ | {image('o/r', second, frontier)} |"]
    # From a fork: the PR's figures are in the fork's repository, the base's in the base repository.
    assert figures(second, third, "o/r", "fork/r").splitlines()[2:] == [
        f"| `{sweep}` | {image('o/r', second, sweep)} | {image('fork/r', third, sweep)} |",
        f"| `{frontier}` | {image('o/r', second, frontier)} | _missing_ |"]


def comment_step(tmp_path, listed_ids: str) -> list[str]:
    """Run the workflow's comment step with a stand-in `gh` that lists listed_ids; the gh calls it made."""
    step = yaml.safe_load(WORKFLOW.read_text())["jobs"]["diff"]["steps"][-1]
    assert "${{" not in step["run"]  # plain bash (the expressions sit in env), so it runs here as on GitHub
    log = tmp_path / "gh.log"
    log.write_text("")
    (tmp_path / "gh").write_text(f'#!/bin/sh\necho "$*" >> {log}\n'
                                 'case "$*" in *--paginate*) printf "%s" "$LISTED_IDS";; esac\n')
    (tmp_path / "gh").chmod(0o755)
    env = {**ENV, "PATH": f"{tmp_path}{os.pathsep}{ENV['PATH']}", "LISTED_IDS": listed_ids,
           "GITHUB_REPOSITORY": "o/r", "COMMENTS": "repos/o/r/issues/7/comments"}
    runner(tmp_path, env)("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"])  # GitHub's bash
    return log.read_text().splitlines()


def test_the_workflow_edits_its_own_comment_or_posts_the_first(tmp_path):
    listing, edit = comment_step(tmp_path, "123\n456")
    assert listing.startswith("api --paginate repos/o/r/issues/7/comments --jq")
    assert MARKER in listing and "github-actions[bot]" in listing
    assert edit == "api --silent --method PATCH repos/o/r/issues/comments/123 -F body=@metrics-diff.md"
    assert comment_step(tmp_path, "")[-1] == "api --silent repos/o/r/issues/7/comments -F body=@metrics-diff.md"


def test_a_fork_gets_the_job_summary_instead_of_a_comment():
    *_, diff, comment = yaml.safe_load(WORKFLOW.read_text())["jobs"]["diff"]["steps"]
    assert diff["env"]["HEAD_REPO"] == "${{ github.event.pull_request.head.repo.full_name }}"
    assert '--head "$HEAD_SHA" --head-repo "$HEAD_REPO" > metrics-diff.md' in diff["run"]
    assert "if" not in diff and 'cat metrics-diff.md >> "$GITHUB_STEP_SUMMARY"' in diff["run"]
    assert comment["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
