"""Params and metrics of the workspace against a git ref, as Markdown tables; the figures too for a PR.

    python tools/metrics_diff.py [REF]        (default: main; `make diff REF=...`)
    python tools/metrics_diff.py REF --head SHA [--repo OWNER/NAME] [--head-repo OWNER/NAME]

With --head, the pipeline's figures at REF and at the pull request's head commit are shown side by
side, as images on GitHub pinned to the two commits. The pull-request workflow
(.github/workflows/metrics-diff.yml) posts this output as one comment, which it finds again by MARKER
and edits on each push. Metrics and figures are git-tracked, so no DVC remote is needed.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys

MARKER = "<!-- metrics-diff -->"
FIGURES = ("reports/freeze_sweep.png", "reports/frontier.png")  # the report stage's git-tracked outs


def run(*cmd: str) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def dvc_diff(kind: str, ref: str) -> str:
    return run("dvc", kind, "diff", "--md", ref) or f"_No {kind} changed._"


def blob(sha: str, path: str) -> str | None:
    """The file's blob hash at a commit (equal hashes: the same bytes), or None where it has no such file."""
    entry = run("git", "ls-tree", "--full-tree", sha, "--", path)
    return entry.split()[2] if entry else None


def image(repo: str, sha: str, path: str) -> str:
    # github.com's raw route rather than raw.githubusercontent.com: it redirects there, and for a
    # private repository it adds the token of a reader who may see it.
    return f"![{path} at {sha[:7]}](https://github.com/{repo}/raw/{sha}/{path})"


def figures(base_ref: str, head_ref: str, repo: str, head_repo: str) -> str:
    """Each figure at base_ref (a commit of repo) beside head_ref (of head_repo: a fork's for a PR from one)."""
    base, head = (run("git", "rev-parse", f"{ref}^{{commit}}") for ref in (base_ref, head_ref))
    rows = [f"| | `{base_ref}` {base[:7]} | this PR {head[:7]} |", "|---|---|---|"]
    for path in FIGURES:
        old, new = blob(base, path), blob(head, path)
        cells = [image(r, sha, path) if b else "_missing_" for r, sha, b in ((repo, base, old), (head_repo, head, new))]
        note = "<br>_unchanged_" if old and old == new else ""
        rows.append(f"| `{path}`{note} | {cells[0]} | {cells[1]} |")
    return "\n".join(rows)


def report(ref: str, head: str | None = None, repo: str | None = None, head_repo: str | None = None) -> str:
    parts = [MARKER, f"## Metrics against `{ref}`", dvc_diff("metrics", ref),
             f"## Params against `{ref}`", dvc_diff("params", ref)]
    if head:
        parts += [f"## Figures against `{ref}`", figures(ref, head, repo, head_repo or repo)]
    return "\n\n".join(parts) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ref", nargs="?", default="main", help="the git ref to diff against (default: main)")
    parser.add_argument("--head", metavar="SHA", help="the pull request's head commit: adds the figures section")
    parser.add_argument("--repo", metavar="OWNER/NAME", default=os.environ.get("GITHUB_REPOSITORY"),
                        help="the GitHub repository holding REF (default: $GITHUB_REPOSITORY)")
    parser.add_argument("--head-repo", metavar="OWNER/NAME", help="the one holding SHA, a fork's (default: --repo)")
    args = parser.parse_args()
    if args.head and not args.repo:
        parser.error("--head needs --repo (or GITHUB_REPOSITORY)")
    print(report(args.ref, args.head, args.repo, args.head_repo), end="")
