"""Benchmark: the project's fine-tune path against the book's code path, side by side.

    python -m bench.throughput            # or `make bench`; ~14 min on 2 cores (full data, 1 epoch, 2 seeds)
    python -m bench.throughput --max-train-samples 800 --seeds 42   # a quick look

Same model, data, batch size, learning rate, epochs and seeds for both paths; only the speed levers
differ. The baseline is the chapter's code (HF Trainer, fp32, shuffled batches padded to their
longest item); the project path is `stages.lib.training.trainer.make_trainer` with the profile's levers
(`precision: auto`: native bf16, else fp16 on CUDA, else fp32; length-grouped batches). Prints samples/s, their ratio, test F1 of
each (mean over seeds), model FLOP utilisation, and the machine's matmul peak measured here; writes
the numbers to results/bench.json.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

SQUARE = [(n, n, n) for n in (512, 1024, 2048, 4096)]


def matmul_peak(dtype: torch.dtype, shapes=SQUARE, repeats: int = 5, device: str | None = None) -> float:
    """Best FLOP/s of (m x k) @ (k x n) matmuls in `dtype` on `device` (default: the one that trains)."""
    from stages.lib.runtime.precision import accelerator

    device = device or accelerator()
    sync = getattr(torch, device).synchronize if device != "cpu" else (lambda: None)  # GPUs run async
    best = 0.0
    for m, k, n in shapes:
        a, b = (torch.randn(m, k, dtype=dtype, device=device), torch.randn(k, n, dtype=dtype, device=device))
        a @ b  # warm-up: thread pool, kernels
        for _ in range(repeats):
            sync()
            start = time.perf_counter()
            a @ b
            sync()
            best = max(best, 2 * m * k * n / (time.perf_counter() - start))
    return best


def model_shapes(config, batch_size: int, tokens: int = 28) -> list[tuple[int, int, int]]:
    """The feed-forward and projection matmuls of one batch of `tokens`-long sequences."""
    rows, d, ff = batch_size * tokens, config.hidden_size, config.intermediate_size
    return [(rows, d, d), (rows, d, ff), (rows, ff, d)]


def training_flops(config, lengths: list[int]) -> float:
    """Model FLOPs of one training pass over sequences of `lengths` real (unpadded) tokens:
    3 x forward (backward ~ 2 x forward); per block 2 FLOPs per multiply-add of the Q, K, V, O and
    feed-forward matmuls plus the two attention matmuls. Embedding lookups and the head are ignored."""
    d, ff, blocks = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    forward = sum(blocks * (2 * s * (4 * d * d + 2 * d * ff) + 4 * s * s * d) for s in lengths)
    return 3.0 * forward


def book_trainer(model, tokenizer, train, hp, output_dir: str):
    """The chapter's code path: Trainer defaults, fp32, random batches, padding per batch."""
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    args = TrainingArguments(output_dir=output_dir, learning_rate=hp.learning_rate,
                             per_device_train_batch_size=hp.batch_size,
                             per_device_eval_batch_size=hp.batch_size, num_train_epochs=hp.epochs,
                             weight_decay=hp.weight_decay, seed=hp.seed, save_strategy="no",
                             report_to="none")
    return Trainer(model=model, args=args, train_dataset=train, processing_class=tokenizer,
                   data_collator=DataCollatorWithPadding(tokenizer))


def run(path: str, model_name: str, hp) -> dict:
    """Train one path on the sentiment data (`hp`: a schema.Training); samples/s, real tokens/s
    and test F1."""
    from transformers import set_seed

    from stages.lib.data.prepared import dataset_info, read_split, subset, with_row_ids
    from stages.lib.config.paths import PREPARED_CLASSIFICATION as DATA
    from stages.lib.tasks.sentiment import SentimentTask
    from stages.lib.config.schema import Bootstrap, FreezeSpec
    from stages.lib.training.trainer import make_trainer, trainer_dir

    task = SentimentTask(FreezeSpec(), Bootstrap(resamples=1000, seed=0), dataset_info("classification"),
                         ("test",))  # the bench reads F1 only
    set_seed(hp.seed)
    tokenizer, model = task.load(model_name)
    train = task.tokenize(subset(read_split(DATA, "train"), hp.max_train_samples, hp.seed), tokenizer)
    test = with_row_ids(read_split(DATA, "test"))
    with trainer_dir() as tmp:
        trainer = (book_trainer(model, tokenizer, train, hp, str(tmp)) if path == "book"
                   else make_trainer(model, tokenizer, train, hp, Path(tmp)))
        result = trainer.train()
        f1 = task.evaluate(trainer, {"test": (test, task.tokenize(test, tokenizer))})["test_f1"]
    seconds = result.metrics["train_runtime"]
    lengths = [len(ids) for ids in train["input_ids"]] * int(hp.epochs)
    return {"samples_per_s": len(lengths) / seconds, "train_s": seconds, "test_f1": f1,
            "flops_per_s": training_flops(model.config, lengths) / seconds}


def main(argv: list[str] | None = None) -> None:
    from transformers import AutoConfig

    from stages.lib.runtime import precision
    from stages.lib.config import schema, settings
    from stages.lib.config.params import load_profile, section
    from stages.lib.reporting.machine import machine
    from stages.lib.models.loading import resolve_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43])
    parser.add_argument("--epochs", type=int, default=1)  # whole epochs: tokens are counted per epoch
    parser.add_argument("--max-train-samples", type=int, default=None, help="default: all 8,530")
    parser.add_argument("--profile", help="whose classifier_model and fine_tune params (default: params.yaml's)")
    parser.add_argument("--out", type=Path, default=Path("results/bench.json"))
    args = parser.parse_args(argv)
    print(f"machine: {machine()}")  # timings compare only within one machine

    params = load_profile(args.profile)
    model_name = section(params, "classifier_model", schema.ModelId)
    project = settings.training(params, "fine_tune",
                                {"epochs": args.epochs, "max_train_samples": args.max_train_samples}, "bench arguments",
                                seed=args.seeds[0])[0]
    config = AutoConfig.from_pretrained(resolve_model(model_name))
    # fp32 (the book's path) and the project's precision, both on the device that trains
    dtypes = {k: precision.DTYPES[k] for k in dict.fromkeys(("fp32", project.precision))}
    shape_peaks = {k: matmul_peak(dt, model_shapes(config, project.batch_size)) for k, dt in dtypes.items()}
    peaks = {k: max(matmul_peak(dt), shape_peaks[k]) for k, dt in dtypes.items()}  # the best seen
    for k in dtypes:
        print(f"matmul peak {k}: {peaks[k] / 1e9:.0f} GFLOP/s (best of squares up to 4096 and the model's shapes); "
              f"{shape_peaks[k] / 1e9:.0f} GFLOP/s at the model's shapes")

    runs = {"book": [], "project": []}
    for seed in args.seeds:  # interleaved, so drift in machine load hits both paths alike
        for path in runs:
            hp = project.model_copy(update={"seed": seed})
            runs[path].append(run(path, model_name, hp))
            print(f"{path} seed {seed}: {runs[path][-1]}")

    def summary(path: str, dtype: str) -> dict:
        rs = runs[path]
        flops = statistics.mean(r["flops_per_s"] for r in rs)
        return {"samples_per_s": statistics.mean(r["samples_per_s"] for r in rs),
                "test_f1": statistics.mean(r["test_f1"] for r in rs), "dtype": dtype,
                "model_gflops_per_s": flops / 1e9, "mfu": flops / peaks[dtype],
                "mfu_of_shape_peak": flops / shape_peaks[dtype], "runs": rs}

    results = {"machine": machine(), "model": model_name, "profile": settings.profile_name(params), "seeds": args.seeds,
               "epochs": args.epochs,
               "batch_size": project.batch_size, "learning_rate": project.learning_rate,
               "train_samples": args.max_train_samples or 8530,
               "peak_gflops_per_s": {k: v / 1e9 for k, v in peaks.items()},
               "model_shape_peak_gflops_per_s": {k: v / 1e9 for k, v in shape_peaks.items()},
               "book": summary("book", "fp32"),
               "project": summary("project", project.precision)}
    book, ours = results["book"], results["project"]
    results["speedup"] = ours["samples_per_s"] / book["samples_per_s"]
    results["f1_difference"] = ours["test_f1"] - book["test_f1"]
    args.out.write_text(json.dumps(results, indent=2) + "\n")

    print(f"\n{results['machine']}: {model_name}, batch {project.batch_size}, {args.epochs} epoch(s), seeds {args.seeds}")
    print("| path | samples/s | test F1 | model GFLOP/s | MFU: of machine peak | of peak at model shapes |")
    print("| --- | --- | --- | --- | --- | --- |")
    for path, r in (("book's code (fp32, shuffled)", book), ("project", ours)):
        dt = r["dtype"]
        print(f"| {path} | {r['samples_per_s']:.1f} | {r['test_f1']:.3f} | {r['model_gflops_per_s']:.0f} "
              f"| {r['mfu']:.0%} of {peaks[dt] / 1e9:.0f} ({dt}) "
              f"| {r['mfu_of_shape_peak']:.0%} of {shape_peaks[dt] / 1e9:.0f} |")
    print(f"speed-up {results['speedup']:.2f}x, F1 difference {results['f1_difference']:+.3f}; "
          f"written to {args.out}")


if __name__ == "__main__":
    main()
