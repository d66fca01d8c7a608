"""The one loop over a stage's runs: a run's seeds, the sweep's (frozen blocks, seed) points,
SetFit's (examples per class, seed) points. Each point is resumable: a finished point's result waits
beside its checkpoints, so a killed stage skips it when rerun; every point's checkpoints are dropped
only once the stage has written its outputs."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Hashable, Iterator

from stages.lib.training.checkpoints import Checkpoints


@dataclass(frozen=True)
class Point:
    key: Hashable                    # the point in the results, e.g. a seed or (frozen blocks, seed)
    label: str                       # the point in the log, e.g. "4 frozen, seed 42"
    checkpoints: Checkpoints | None  # None: not resumable
    keep: bool = True                # False where the point writes outputs itself or returns more than
                                     # JSON (the run whose model is saved): it reruns when the stage does


@contextlib.contextmanager
def each_point(stage: str, points: list[Point], run: Callable[[Point], dict]) -> Iterator[dict]:
    """{point.key: run(point)} over `points` in order, a kept result standing in for a point finished in
    an interrupted invocation. The stage writes its outputs inside the `with`; the checkpoints are
    dropped when it leaves without an error."""
    results = {}
    for i, point in enumerate(points, start=1):
        step = f"{stage} [{i}/{len(points)}]" if len(points) > 1 else stage
        kept = point.checkpoints.result() if point.keep and point.checkpoints else None
        if kept is None:
            print(f"{step}: {point.label}")
            kept = run(point)
            if point.keep and point.checkpoints:
                point.checkpoints.keep_result(kept)
        else:
            print(f"{step}: {point.label}: done in an interrupted run")
        results[point.key] = kept
    yield results
    for point in points:
        if point.checkpoints:
            point.checkpoints.finish()
