"""Where every stage reads and writes (dvc.yaml declares the same paths)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

PARAMS = Path("params.yaml")
PREPARED = Path("data/prepared")
PREPARED_CLASSIFICATION = PREPARED / "classification"  # Rotten Tomatoes, or data.classification's dataset
PREPARED_NER = PREPARED / "ner"                        # CoNLL-2003, or data.ner's dataset
SOURCES = PREPARED / "sources.json"  # where the data came from (raw files' md5, Hub commits)


DATASET_RECORD = "dataset.json"  # in each prepared folder, beside its splits


def dataset_record(task: str) -> Path:
    """What the training stages read of a prepared dataset (classification or ner): name, labels. In
    the dataset's own folder, so a stage depends on its splits and their names as one output."""
    return PREPARED / task / DATASET_RECORD
MODELS = Path("data/models")
CHECKPOINTS = Path("data/checkpoints")  # resumable runs: not a DVC output, git-ignored
PREDICTIONS = Path("data/predictions")  # per test row (sentence for NER), one JSON line each
METRICS = Path("metrics")
LIVE = METRICS / "live"                 # DVCLive training curves

SWEEP_POINTS = METRICS / "freeze_sweep/points"  # one JSON per (frozen blocks, seed)
SWEEP_PREDICTIONS = PREDICTIONS / "freeze_sweep"  # one JSONL per (frozen blocks, seed)
COMPARISONS = METRICS / "comparisons.json"
HEADLINE = METRICS / "headline"  # each run's headline: the files dvc.yaml declares as metrics
FRONTIER = METRICS / "frontier.csv"
SWEEP_CSV = METRICS / "freeze_sweep.csv"
SWEEP_SUMMARY = METRICS / "freeze_sweep.json"
SWEEP_HEADLINE = HEADLINE / "freeze_sweep.json"
REPORT_NOTEBOOK = Path("reports/report.ipynb")
BOOK_NUMBERS = Path("reports/book.yaml")  # the chapter's printed numbers, beside ours in the report
REPORT_HTML = Path("reports/report.html")
REPORT_FIGURES = (Path("reports/freeze_sweep.png"), Path("reports/frontier.png"))


@dataclass(frozen=True)
class RunOutputs:
    """What a training run writes: its metrics JSON (every number), its headline (what `dvc exp show`
    and `dvc metrics diff` show), its model, curves and test predictions when kept, and files of its
    task's own (`extra`: name -> path)."""
    metrics: Path
    headline: Path | None = None
    model: Path | None = None
    live: Path | None = None
    predictions: Path | None = None
    extra: dict[str, Path] = field(default_factory=dict)


def fine_tune(run: str) -> RunOutputs:
    return RunOutputs(METRICS / "fine_tune" / f"{run}.json", HEADLINE / "fine_tune" / f"{run}.json",
                      MODELS / "fine_tune" / run, LIVE / "fine_tune" / run, PREDICTIONS / "fine_tune" / f"{run}.jsonl")


MLM = RunOutputs(METRICS / "mlm_pretrain.json", HEADLINE / "mlm_pretrain.json", MODELS / "mlm_pretrain",
                 LIVE / "mlm_pretrain", extra={"fill_mask": METRICS / "mlm_fill_mask.json"})
NER = RunOutputs(METRICS / "ner.json", HEADLINE / "ner.json", MODELS / "ner", LIVE / "ner", PREDICTIONS / "ner.jsonl",
                 extra={"probes": METRICS / "ner_probes.json"})
SETFIT = RunOutputs(METRICS / "setfit.json", HEADLINE / "setfit.json", MODELS / "setfit",
                    predictions=PREDICTIONS / "setfit.jsonl")


def sweep_point(frozen_blocks: int, seed: int, folder: Path = SWEEP_POINTS, suffix: str = ".json") -> Path:
    return Path(folder) / f"blocks{frozen_blocks}_seed{seed}{suffix}"
