"""Params and metrics of the workspace against a git ref, as Markdown tables.

    python tools/metrics_diff.py [REF]        (default: main; `make diff REF=...`)

The pull-request workflow (.github/workflows/metrics-diff.yml) posts this same output as a comment.
Metrics are git-tracked JSON, so no DVC remote is needed.
"""
from __future__ import annotations

import subprocess
import sys


def dvc_diff(kind: str, ref: str) -> str:
    proc = subprocess.run(["dvc", kind, "diff", "--md", ref], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"error: dvc {kind} diff {ref} failed: {proc.stderr.strip()}")
    return proc.stdout.strip() or f"_No {kind} changed._"


def report(ref: str) -> str:
    return "\n\n".join([f"## Metrics against `{ref}`", dvc_diff("metrics", ref),
                        f"## Params against `{ref}`", dvc_diff("params", ref)]) + "\n"


if __name__ == "__main__":
    print(report(sys.argv[1] if len(sys.argv) > 1 else "main"), end="")
