"""Benchmark: `python -m tools.predict` against the plain transformers pipeline, same model and texts.

    python -m bench.predict          # part of `make bench`; ~3 min on 2 cores (Zen 3, fp32)

Sentiment: the `full` run's model on the 1,066 Rotten Tomatoes test reviews; NER: the NER model on
the first 1,066 CoNLL-2003 test sentences. Three ways for each: the pipeline as the chapter calls it
(one text at a time), the pipeline with predict's batch size (texts in input order), and predict
(batches of texts sorted by length, at the precision `auto` picks). Prints texts/s, the speed-up over
the plain pipeline, how often the labels agree with it, and the CPU; writes results/predict.json.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from stages.lib.data import prepared
from stages.lib.config import paths
from stages.lib.models import predict
from stages.lib.reporting.machine import cpu_model


def texts_of(kind: str, limit: int) -> list[str]:
    if kind == "sentiment":
        return prepared.read_split(paths.PREPARED_CLASSIFICATION, "test").to_dict()["text"][:limit]
    return [" ".join(words) for words in prepared.read_split(paths.PREPARED_NER, "test").to_dict()["tokens"][:limit]]


def labels(kind: str, outputs: list) -> list:
    """What the ways are compared on: the top label, or each entity's (type, start, end); from the
    pipeline's output or predict's."""
    if kind == "sentiment":
        return [o["label"] if isinstance(o, dict) else max(o, key=lambda s: s["score"])["label"] for o in outputs]
    return [[(e.get("type") or e["entity_group"], e["start"], e["end"]) for e in (o["entities"] if isinstance(o, dict) else o)]
            for o in outputs]


def timed(fn, texts):
    fn(texts[:8])  # warm-up: thread pool, first-call allocations
    start = time.perf_counter()
    out = fn(texts)
    return out, len(texts) / (time.perf_counter() - start)


def bench(kind: str, folder: Path, texts: list[str], batch_size: int) -> dict:
    from transformers import pipeline

    predictor = predict.Predictor(folder, "auto", batch_size)
    # the plain pipeline as a user builds it: its own default precision and window, not predict's
    pipe = pipeline(predictor.pipe.task, model=str(folder), device=predictor.device)
    extra = {"top_k": None} if kind == "sentiment" else {"aggregation_strategy": "first"}
    plain, plain_rate = timed(lambda t: pipe(t, **extra), texts)
    batched, batched_rate = timed(lambda t: pipe(t, batch_size=batch_size, **extra), texts)
    ours, ours_rate = timed(predictor, texts)
    reference = labels(kind, plain)

    def agree(out):
        return sum(a == b for a, b in zip(labels(kind, out), reference)) / len(texts)

    return {"texts": len(texts), "model": str(folder), "precision": predictor.precision,
            "pipeline_texts_per_s": plain_rate, "pipeline_batched_texts_per_s": batched_rate,
            "predict_texts_per_s": ours_rate, "speedup": ours_rate / plain_rate,
            "batched_agreement": agree(batched), "predict_agreement": agree(ours)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=1066, help="texts per task (default: 1,066, all the test reviews)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", type=Path, default=Path("results/predict.json"))
    args = parser.parse_args(argv)
    results = {"cpu": cpu_model(), "batch_size": args.batch_size}
    for kind in ("sentiment", "ner"):
        results[kind] = bench(kind, predict.MAIN_MODELS[kind], texts_of(kind, args.limit), args.batch_size)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\n{results['cpu']}; batch size {args.batch_size}")
    print("| task | texts | pipeline, one at a time | pipeline, batched | predict | speed-up | labels agree |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for kind in ("sentiment", "ner"):
        r = results[kind]
        print(f"| {kind} | {r['texts']:,} | {r['pipeline_texts_per_s']:.1f}/s | {r['pipeline_batched_texts_per_s']:.1f}/s "
              f"| {r['predict_texts_per_s']:.1f}/s ({r['precision']}) | {r['speedup']:.2f}x | {r['predict_agreement']:.1%} |")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
