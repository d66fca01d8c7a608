"""The cost/accuracy frontier: test F1 (with its 95 % interval) against trainable parameters and
against training seconds, for every way the pipeline trains the classifier, beside the book's
printed points. Drawn by the report from metrics/frontier.csv (the compare stage's table)."""
from __future__ import annotations

from pathlib import Path

from stages.lib.scoring.compare import nearest_in_size
from stages.lib.scoring.sweep import f1_axis

STYLE = {  # kind -> marker, colour, legend label
    "full": ("o", "C0", "full fine-tune"),
    "frozen": ("s", "C1", "embeddings + first blocks frozen"),
    "head_only": ("v", "C2", "head only"),
    "sweep": (".", "C9", "freeze sweep (one point per frozen-block count)"),
    "lora": ("D", "C3", "LoRA (rank in the name)"),
    "setfit": ("*", "C4", "SetFit, 32 labelled examples (body + head train)"),
}


def book_points(book: dict[str, float], book_sweep: dict[int, float]) -> list[dict]:
    """The book's printed F1s at bert-base-cased's trainable-parameter counts. The counts come from
    the model's structure (BertConfig with bert-base-cased's 28,996-token vocabulary, built on the
    meta device: no weights, no download) through the pipeline's own freezing code."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from stages.lib.models.freezing import apply_freezing, count_parameters
    from stages.lib.config.schema import FreezeSpec

    with torch.device("meta"):
        model = BertForSequenceClassification(BertConfig(vocab_size=28996, num_labels=2))
    blocks = model.config.num_hidden_layers

    def trainable(**spec) -> int:
        apply_freezing(model, FreezeSpec(**spec))
        return count_parameters(model)["trainable_params"]

    runs = {"full": ({}, "book: full"), "head_only": ({"head_only": True}, "book: head only"),
            "first_blocks": ({"freeze_embeddings": True, "frozen_blocks": 10}, "book: embeddings + 10 blocks frozen")}
    points = [{"method": label, "trainable_params": trainable(**spec), "f1": book[f"fine_tune/{run}:test_f1"],
               "sweep": False}
              for run, (spec, label) in runs.items() if f"fine_tune/{run}:test_f1" in book]
    points += [{"method": f"book sweep: {n} of {blocks} blocks trainable",
                "trainable_params": trainable(frozen_blocks=blocks - n), "f1": f1, "sweep": True}
               for n, f1 in sorted(book_sweep.items())]
    return points


def on_frontier(rows: list[dict], cost: str) -> list[dict]:
    """The rows no other row beats: none has at most their `cost` and a higher F1."""
    return [r for r in rows if not any(o is not r and o[cost] <= r[cost] and o["f1"] > r["f1"] for o in rows)]


def plot(rows: list[dict], book: list[dict], path: Path | None = None):
    """Two panels: F1 against trainable parameters (log), with the book's points, and against
    training seconds on this machine. Error bars: the 95 % bootstrap intervals."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 5.6))
    by_params, by_seconds = fig.subplots(1, 2, sharey=True)
    for ax, cost in ((by_params, "trainable_params"), (by_seconds, "train_seconds")):
        for kind, (marker, colour, label) in STYLE.items():
            mine = sorted((r for r in rows if r["kind"] == kind), key=lambda r: r[cost])
            if not mine:
                continue
            ax.errorbar([r[cost] for r in mine], [r["f1"] for r in mine], capsize=3, marker=marker, color=colour,
                        yerr=[[r["f1"] - r["f1_low"] for r in mine], [r["f1_high"] - r["f1"] for r in mine]],
                        linestyle="none", markersize=12 if kind == "setfit" else 7, label=label)
            for r in mine:
                if kind == "lora" and ax is by_params:
                    ax.annotate(r["method"].rsplit("_", 1)[-1], (r[cost], r["f1"]), textcoords="offset points",
                                xytext=(6, -12), fontsize=8, color=colour)
        frontier = sorted(on_frontier(rows, cost), key=lambda r: r[cost])
        ax.step([r[cost] for r in frontier], [r["f1"] for r in frontier], where="post", color="black",
                linewidth=0.8, alpha=0.5, label="frontier (nothing cheaper scores higher)")
        ax.set_xscale("log")
        ax.set_ylim(*f1_axis(*(r["f1_low"] for r in rows), *(p["f1"] for p in book)))
        ax.grid(alpha=0.3)
    sweep = sorted((p for p in book if p["sweep"]), key=lambda p: p["trainable_params"])
    by_params.plot([p["trainable_params"] for p in sweep], [p["f1"] for p in sweep], linestyle="--",
                   marker="o", markerfacecolor="none", color="gray", label="book sweep (bert-base-cased)")
    for p in (p for p in book if not p["sweep"]):
        by_params.plot(p["trainable_params"], p["f1"], marker="X", color="black", linestyle="none", markersize=9)
        by_params.annotate(p["method"], (p["trainable_params"], p["f1"]), textcoords="offset points",
                           xytext=(6, 4), fontsize=8)
    by_params.set_xlabel("trainable parameters (log scale)")
    by_params.set_ylabel("test F1 (95% bootstrap CI)")
    by_seconds.set_xlabel("training seconds on this machine (log scale)")
    by_params.set_title("F1 against what trains")
    by_seconds.set_title("F1 against training time")
    fig.legend(*by_params.get_legend_handles_labels(), loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.13, 1, 1))  # room for the legend below
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def reading(rows: list[dict]) -> list[str]:
    """The figure in sentences: the frontier, and each LoRA run beside the freezing run nearest it in
    trainable parameters. (Differences at the top are often inside the intervals: the compare
    stage's paired tests say which are real.)"""
    def name(r):
        return f"{r['method']} ({r['trainable_params']:,} trainable, F1 {r['f1']:.3f})"

    def frontier(cost):
        return sorted(on_frontier(rows, cost), key=lambda r: r[cost])

    lines = [f"On the parameter frontier: {'; '.join(map(name, frontier('trainable_params')))}.",
             f"On the time frontier: {'; '.join(r['method'] for r in frontier('train_seconds'))}."]
    frozen = {r["method"]: r for r in rows if r["kind"] in ("sweep", "frozen", "head_only")}
    for lora in (r for r in rows if r["kind"] == "lora" and frozen):
        near = frozen[nearest_in_size(frozen, lora["trainable_params"])]
        ratio = lora["trainable_params"] / near["trainable_params"]
        lines.append(f"{name(lora)} against freezing at a similar size, {name(near)}: "
                     f"{lora['f1'] - near['f1']:+.3f} F1 with {ratio:.1f}x the trainable parameters.")
    return lines
