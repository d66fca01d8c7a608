"""Optuna studies, one per strategy, in a storage every worker shares (a journal file, or a database
URL for machines without a shared disk), and the worker loop: ask Optuna for a trial, train it on the
validation split with pruning after each epoch, save it as a DVC experiment, tell Optuna its score."""
from __future__ import annotations

import math
import os
import signal
import socket
import time
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

from stages.lib.runtime.errors import PipelineError
from stages.lib.scoring.headline import interval
from stages.lib.tuning import experiments
from stages.lib.tuning.space import Space, UsageError, apply, recipe

RANDOM_TRIALS = 4  # TPE's random start, after the recipe's trial: 12 trials leave it 7 guided ones
PRUNE_AFTER = 3    # finished trials before the median pruner stops anything


@dataclass(frozen=True)
class Plan:
    """One study: `run` (a key of runs in params.yaml) searched over `space` until `trials` trials
    have finished (completed or pruned); `study` names it and prefixes its experiments."""
    run: str
    study: str
    space: Space
    trials: int


def open_storage(url: str):
    """The shared storage: a database URL (scheme://...), or else a journal file (a new one is made)."""
    import optuna

    if "://" in url:
        try:
            return optuna.storages.RDBStorage(url)
        except Exception as e:  # an unreachable server, a missing driver, a malformed URL
            reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise UsageError(f"--storage {url}: cannot open it ({reason})") from None
    path = Path(url)
    if path.is_dir() or not path.parent.is_dir():
        raise UsageError(f"--storage {url}: not a file in an existing folder (a journal file, or a database "
                         "URL such as sqlite:///tuning.db or postgresql://user@host/db)")
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def release_stale(study, storage) -> int:
    """Trials left running by a killed worker of this machine: failed, and their params queued again
    (a resumed search runs them first). Returns how many."""
    from optuna.trial import TrialState

    host, released = socket.gethostname(), 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner, _, pid = trial.user_attrs.get("worker", "").rpartition(":")
        if owner == host and pid.isdigit() and not _alive(int(pid)):
            storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
            study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
            released += 1
    return released


def prepare(storage, plan: Plan, params: dict, base: str):
    """Create the study, or load it to resume: a new study's first trial is the recipe in params.yaml;
    one that exists must have been made with the same run and space."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # not a line per study loaded
    described = {"run": plan.run, "space": repr(plan.space)}
    study = optuna.create_study(storage=storage, study_name=plan.study, direction="maximize", load_if_exists=True)
    if not study.trials and not study.user_attrs:
        earlier = experiments.existing(base, f"{plan.study}-t")
        if earlier:
            raise UsageError(f"--study {plan.study}: experiments {', '.join(sorted(earlier)[:3])}... of this commit come "
                             "from an earlier study of that name; remove them (dvc exp remove) or name this one otherwise")
        for key, value in described.items():
            study.set_user_attr(key, value)
        study.enqueue_trial(recipe(params, plan.run, plan.space), user_attrs={"recipe": True})
    elif {k: study.user_attrs.get(k) for k in described} != described:
        raise UsageError(f"--study {plan.study}: the study in this storage searches {study.user_attrs.get('run')} over "
                         f"{study.user_attrs.get('space')}; to search anything else, name a new study (--study)")
    released = release_stale(study, storage)
    if released:
        print(f"{plan.study}: {released} trial(s) left running by a killed search run again first")
    return study


def _taken(study) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)))


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def work(index: int, plans: list[Plan], url: str, deadline: float, seed: int, base: str, workers: int) -> None:
    """One worker: trials of each plan in turn until its study has its trials or `deadline` passes."""
    threads = max(1, (os.cpu_count() or 1) // workers)
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    import optuna
    import torch
    from optuna.trial import TrialState

    from stages.lib.config.params import load_params
    from stages.lib.tuning import trial as trials

    torch.set_num_threads(threads)
    signal.signal(signal.SIGTERM, _interrupt)  # a scheduler's stop, handled as Ctrl-C: the trial runs again
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # multivariate TPE
    params, storage, tag = load_params(), open_storage(url), f"[worker {index}] " if workers > 1 else ""
    kept = trials.Kept()
    for plan in plans:
        # a seed of its own per worker and study: the same seed would draw the same random start in every study
        sampler = optuna.samplers.TPESampler(seed=zlib.crc32(f"{seed}:{index}:{plan.study}".encode()),
                                             n_startup_trials=RANDOM_TRIALS, multivariate=True, constant_liar=True)
        study = optuna.load_study(study_name=plan.study, storage=storage, sampler=sampler,
                                  pruner=optuna.pruners.MedianPruner(n_startup_trials=PRUNE_AFTER))
        while time.time() < deadline and _taken(study) < plan.trials:
            trial = study.ask()
            trial.set_user_attr("worker", _worker_id())
            overrides = plan.space.overrides(trial)
            name = f"{plan.study}-t{trial.number:03d}"
            print(f"{tag}{name}: {', '.join(f'{k} {v:.3g}' if isinstance(v, float) else f'{k} {v}' for k, v in overrides.items())}")

            def report(epoch: int, f1: float) -> bool:
                trial.report(f1, epoch)
                return trial.should_prune()

            try:
                outcome = trials.run(params, plan.run, overrides, report, kept=kept)
            except BaseException as e:
                study.tell(trial, state=TrialState.FAIL)
                if isinstance(e, KeyboardInterrupt):  # stopped, not broken: the resumed search runs it again
                    study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
                raise
            scores = outcome.scores
            state = "pruned" if outcome.pruned else "complete"
            record = {"study": plan.study, "trial": trial.number, "state": state,
                      "validation_f1": scores["validation_f1"],
                      "validation_f1_95ci": interval(*scores["validation_f1_ci95"]),
                      "validation_accuracy": scores["validation_accuracy"],
                      "epochs_run": len(outcome.by_epoch), "train_s": round(outcome.seconds, 1)}
            experiments.save(name, apply(params, plan.run, overrides), record, base)
            for key in ("validation_f1_ci95", "validation_accuracy"):
                trial.set_user_attr(key, scores[key])
            trial.set_user_attr("experiment", name)
            trial.set_user_attr("by_epoch", outcome.by_epoch)
            trial.set_user_attr("seconds", outcome.seconds)
            if outcome.pruned:
                study.tell(trial, state=TrialState.PRUNED)
            else:
                study.tell(trial, scores["validation_f1"])
            best = max((t.value for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))), default=None)
            print(f"{tag}{name}: validation F1 {scores['validation_f1']:.4f} ({state} after "
                  f"{len(outcome.by_epoch)} epoch(s), {outcome.seconds:.0f} s); best so far {best if best is not None else float('nan'):.4f}")


def _work_quietly(*args) -> None:
    """work() in a worker process: a PipelineError is one line and exit status 2, as in the parent; an
    interrupt, exit status 130 (the parent says how to resume)."""
    import sys

    try:
        work(*args)
    except PipelineError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


def search(plans: list[Plan], url: str, workers: int, minutes: float | None, seed: int, params: dict) -> None:
    """Run `plans` on `workers` processes of this machine (more machines join with the same `url`)."""
    import multiprocessing

    base = experiments.baseline()
    storage = open_storage(url)
    for plan in plans:
        prepare(storage, plan, params, base)
    deadline = time.time() + minutes * 60 if minutes else math.inf
    if workers == 1:
        work(0, plans, url, deadline, seed, base, 1)
        return
    context = multiprocessing.get_context("spawn")  # a fresh interpreter each: no forked torch threads
    processes = [context.Process(target=_work_quietly, args=(i, plans, url, deadline, seed, base, workers))
                 for i in range(workers)]
    signal.signal(signal.SIGTERM, _interrupt)
    for process in processes:
        process.start()
    try:
        for process in processes:
            process.join()
    except KeyboardInterrupt:  # Ctrl-C reaches the workers too (give them a moment); a SIGTERM, passed on
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()  # each worker fails its trial and queues it to run again
                process.join()
        raise
    failed = [str(i) for i, process in enumerate(processes) if process.exitcode]
    if failed:
        raise PipelineError(f"worker(s) {', '.join(failed)} stopped with an error (above); the search resumes "
                            "where it stopped when run again")
