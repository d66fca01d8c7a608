"""Bring a clone's results back without retraining: every stage output the DVC remote holds, and
optionally an experiment another clone shared (`dvc exp push origin EXP` there, `dvc exp pull origin
EXP` here).

    python -m tools.restore          # `dvc pull`, then say which stages (if any) are still missing
    python -m tools.restore EXP      # `dvc exp apply EXP` first (make restore [EXP=name])

DVC's own `dvc pull` and `dvc exp apply` stop with a multi-line checkout error (exit 1 or 255) as
soon as one output is in neither this clone's cache nor the remote, which is the case for every stage
that never ran where its outputs were pushed; the experiment is applied all the same. This restores
what exists and names the rest in one line. Exit 0: every stage is up to date; 1: the stages named
were not restored; 2: a DVC error (unknown experiment, no remote, unreachable remote).
"""
from __future__ import annotations

import argparse
import logging
import sys


def missing_stages(repo) -> list[str]:
    """Stages whose recorded outputs are not in the workspace after the pull (`dvc status`)."""
    status = repo.status()
    return sorted(name for name, changes in status.items()
                  if any("changed outs" in c for c in changes if isinstance(c, dict)))


def restore(exp: str | None) -> int:
    from dvc.exceptions import CheckoutError, DvcException
    from dvc.repo import Repo

    logging.disable(logging.WARNING)  # DVC's per-file warnings: the one line below says it
    repo = Repo()
    try:
        if exp:
            try:
                repo.experiments.apply(exp)
            except CheckoutError:
                pass  # params, dvc.lock and metrics are applied; the outputs come from the pull below
        if not repo.config["core"].get("remote"):
            print("error: no default DVC remote: `dvc remote add -d storage <folder | s3://… | ssh://…>` "
                  "(docs/profiles-and-experiments.md#sharing-results)", file=sys.stderr)
            return 2
        repo.pull(allow_missing=True)
    except DvcException as e:
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    missing = missing_stages(repo)
    if missing:
        print(f"restore: not restored, in neither this clone's cache nor the remote (never ran where "
              f"outputs were pushed): {', '.join(missing)}; `dvc repro` runs them here, or `dvc push` "
              "from the clone that ran them", file=sys.stderr)
        return 1
    print("restore: every stage's outputs are here; `dvc status` is clean")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("exp", nargs="?", help="an experiment to apply first (a name from `dvc exp show`)")
    sys.exit(restore(parser.parse_args().exp))


if __name__ == "__main__":
    main()
