"""Tune a strategy's recipe before comparing strategies: an Optuna search (TPE, with trials pruned
on their validation F1 after each epoch) on the validation split only, every trial a DVC experiment;
then the best recipe trained once more and scored on the test split against the recipe in params.yaml.

    python -m tools.tune search full head_only --trials 12            # one study per strategy
    python -m tools.tune search first_blocks --depth 2 --trials 12    # a freezing depth of your own
    python -m tools.tune search full --workers 2 --minutes 60         # 2 worker processes, 1 hour
    python -m tools.tune finish full head_only                        # test once -> metrics/tuning.json

A strategy is a run of `runs` in params.yaml (full, head_only, first_blocks, lora_r4, lora_r16, or
your own). Studies live in --storage (default tuning/<profile>.journal): run the same command again
to resume a search where it stopped; run it on other machines with a shared storage (a journal file
on a shared disk, or a database URL) to add workers. docs/tuning.md has the set-up.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stages.lib.config import paths
from stages.lib.config.params import load_params, profile_name, stage_main
from stages.lib.tuning import experiments, space
from stages.lib.tuning.space import UsageError


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.tune", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("search", "run trials (resumes a study that exists)"),
                       ("finish", "train each study's best recipe once, score the test split: metrics/tuning.json")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("strategies", nargs="+", metavar="strategy", help="runs of params.yaml to tune")
        sub.add_argument("--depth", type=int, help="search the run at this many frozen blocks (first_blocks)")
        sub.add_argument("--study", help="the study's name (one strategy); default: the strategy, -d<depth>")
        sub.add_argument("--storage", help="a journal file or database URL; default tuning/<profile>.journal")
    search = commands.choices["search"]
    search.add_argument("--trials", type=int, default=12, help="finished trials per study (default 12)")
    search.add_argument("--minutes", type=float, help="start no trial after this many minutes")
    search.add_argument("--workers", type=int, default=1, help="worker processes on this machine (default 1)")
    search.add_argument("--seed", type=int, default=0,
                        help="the sampler's seed (each worker and study derives its own from it)")
    search.add_argument("--learning-rate", metavar="LOW:HIGH", help="searched on a log scale")
    search.add_argument("--epochs", metavar="LOW:HIGH", help="whole epochs")
    search.add_argument("--weight-decay", metavar="LOW:HIGH")
    search.add_argument("--batch-size", metavar="A,B", help="choices, e.g. 16,32")
    search.add_argument("--lora-alpha", metavar="A,B", help="choices (LoRA runs)")
    search.add_argument("--lora-rank", metavar="A,B", help="choices (LoRA runs; default: the run's rank)")
    return parser


def given_ranges(args) -> dict:
    """The ranges set on the command line, parsed (space.Space field -> value)."""
    flags = {"learning_rate": ("--learning-rate", lambda f, t: space.parse_range(f, t, log=True)),
             "epochs": ("--epochs", lambda f, t: space.parse_range(f, t, integer=True)),
             "weight_decay": ("--weight-decay", space.parse_range),
             "batch_size": ("--batch-size", space.parse_choices),
             "lora_alpha": ("--lora-alpha", lambda f, t: space.parse_choices(f, t, float)),
             "lora_rank": ("--lora-rank", space.parse_choices)}
    return {field: parse(flag, getattr(args, field)) for field, (flag, parse) in flags.items()
            if getattr(args, field, None) is not None}


def plans(args, params: dict) -> list:
    from stages.lib.tuning.study import Plan

    runs = params.get("runs") or {}
    unknown = [s for s in args.strategies if s not in runs]
    if unknown:
        raise UsageError(f"strategy {unknown[0]!r}: not a run of params.yaml (runs: {', '.join(runs)})")
    if len(set(args.strategies)) != len(args.strategies):
        raise UsageError("strategies: each one once")
    if args.study and len(args.strategies) > 1:
        raise UsageError("--study names one study: give one strategy with it")
    trials = getattr(args, "trials", 1)
    if trials < 1:
        raise UsageError(f"--trials {trials}: a study needs at least 1 trial")
    out = []
    for name in args.strategies:
        searched = space.for_run(name, runs[name] or {}, args.depth, **given_ranges(args))
        study = args.study or (name if args.depth is None else f"{name}-d{args.depth}")
        experiments.check_name(study)
        out.append(Plan(name, study, searched, trials))
    return out


@stage_main
def main(argv: list[str] | None = None) -> None:
    args = arguments().parse_args(argv)
    params = load_params()
    chosen = plans(args, params)
    if getattr(args, "minutes", None) is not None and args.minutes <= 0:
        raise UsageError(f"--minutes {args.minutes:g}: a budget must be above 0")
    if getattr(args, "workers", 1) < 1:
        raise UsageError(f"--workers {args.workers}: at least 1")
    if not paths.PREPARED_CLASSIFICATION.is_dir():
        raise UsageError(f"{paths.PREPARED_CLASSIFICATION} not found: run `dvc repro prepare` (or `dvc pull`) first")
    url = args.storage
    if url is None:
        url = f"tuning/{profile_name(params)}.journal"
        Path(url).parent.mkdir(exist_ok=True)
    if args.command == "search":
        from stages.lib.tuning.study import search

        try:
            search(chosen, url, args.workers, args.minutes, args.seed, params)
        except KeyboardInterrupt:
            print("stopped; the trials in flight run again first when the same command resumes the search",
                  file=sys.stderr)
            sys.exit(130)
    else:
        from stages.lib.tuning.summary import finish

        record = finish(chosen, url, params)
        for name in (plan.study for plan in chosen):
            entry = record["studies"][name]
            diff = entry["tuned_minus_recipe"]
            print(f"{name}: tuned test F1 {entry['test_f1']:.3f} [{entry['test_f1_95ci']}] vs the recipe's "
                  f"{entry['recipe']['test_f1']:.3f} [{entry['recipe']['test_f1_95ci']}]: "
                  f"{diff['f1']:+.3f}, p = {diff['p_value']:.3f}")


if __name__ == "__main__":
    main()
