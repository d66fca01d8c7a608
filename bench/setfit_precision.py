"""Benchmark: which SetFit phase loses F1 in bf16: training the body, or encoding sentences.

    python -m bench.setfit_precision            # ~15 min on 2 cores (one SetFit training)
    python -m bench.setfit_precision --check    # first: the emulation against real autocast (~2 min)

SetFit has three phases: contrastive training of the Sentence Transformer body, encoding (the
head's training sentences and the test split), and the logistic-regression head, which
scikit-learn fits in float64 whatever the body's precision. This trains the profile's SetFit body
in bf16 with its main samples_per_class and first seed (the fp32 body is the setfit stage's saved
model, data/models/setfit, trained with the same settings), then encodes with each body in fp32 and
in bf16, fits the head and scores the test split: four cells, each against fp32 throughout on the
same rows (paired bootstrap interval and permutation test of the F1 difference). Writes
results/setfit_precision.json.

bf16 is torch.autocast where the machine has it natively (a CPU with AVX512-BF16/AMX, a recent GPU).
Elsewhere bf16 matmuls fall back to a kernel ~100x slower than fp32 (1 against 128 GFLOP/s on the
Zen 3 EPYC), so bf16 is emulated: the same autocast, with each bf16 matmul widened to fp32, computed
by the fp32 kernel and rounded back to bf16. That is the same arithmetic (a product of two bf16
numbers is exact in fp32, and the bf16 kernel sums in fp32); only the order of the sums differs.
`--check` compares the two on a few sentences.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode

BF16 = torch.bfloat16
aten = torch.ops.aten
# linear and matmul reach a dispatch mode whole under inference mode, decomposed under autograd
MATMULS = {aten.mm.default, aten.addmm.default, aten.bmm.default, aten.baddbmm.default, aten.linear.default,
           aten.matmul.default}


class Fp32MatmulKernels(TorchDispatchMode):
    """bf16 matmuls (forward and backward) on fp32 kernels: the bf16 operands widened (exactly), an
    fp32 product and sum, the result rounded to bf16, which is the arithmetic of a bf16 matmul that
    accumulates in fp32. Every other op runs as it would."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in MATMULS and any(isinstance(a, torch.Tensor) and a.dtype == BF16 for a in args):
            wide = [a.float() if isinstance(a, torch.Tensor) and a.dtype == BF16 else a for a in args]
            return func(*wide, **kwargs).to(BF16)
        return func(*args, **kwargs)


@contextlib.contextmanager
def emulated_bf16():
    """bf16 autocast, with its matmuls on fp32 kernels (see the module's docstring)."""
    with torch.autocast("cpu", dtype=BF16), Fp32MatmulKernels():
        yield


def fp32_kernels(native: bool):
    """Where bf16 is not native, its matmuls on fp32 kernels; the autocast is the code's own."""
    return contextlib.nullcontext() if native else Fp32MatmulKernels()


def check(body, texts: list[str]) -> dict:
    """How far emulated and real autocast bf16 each land from fp32, and from each other, on the
    embeddings and on the gradient of a cosine-similarity loss over pairs of `texts` (real bf16 may
    be slow here). Two bf16 runs that sum in different orders differ by a rounding now and then, and
    12 blocks of bf16 carry that on: what matters is that both sit as far from fp32."""
    def run(context):
        body.zero_grad()
        with context:  # the backward pass too: its matmuls are the emulation's
            emb = body(body.preprocess(texts))["sentence_embedding"].float()
            loss = (torch.nn.functional.cosine_similarity(emb[0::2], emb[1::2]) - 1).pow(2).mean()
            loss.backward()
        grads = torch.cat([p.grad.flatten() for p in body.parameters() if p.grad is not None])
        return emb.detach(), grads

    body.eval()  # no dropout, so the three runs differ only in arithmetic
    fp32, emulated, autocast = (run(contextlib.nullcontext()), run(emulated_bf16()),
                                run(torch.autocast("cpu", dtype=BF16)))
    body.train()

    def rel(a, b):
        return float((a - b).norm() / b.norm())
    return {what: {"emulated_vs_fp32": rel(emulated[i], fp32[i]), "autocast_vs_fp32": rel(autocast[i], fp32[i]),
                   "emulated_vs_autocast": rel(emulated[i], autocast[i])}
            for i, what in enumerate(("embedding_rel_error", "gradient_rel_error"))}


def main(argv: list[str] | None = None) -> None:
    import setfit
    from sklearn.base import clone
    from transformers import set_seed

    from stages.lib.data import prepared
    from stages.lib.config import paths
    from stages.lib.runtime import precision
    from stages.lib.config import settings
    from stages.lib.scoring import stats
    from stages.lib.config.params import load_profile
    from stages.lib.tasks.setfit.fewshot import draw_samples, train_setfit
    from stages.lib.reporting.machine import machine
    from stages.lib.scoring.metrics import classification_metrics

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", help="conf/profile/<name> (default: params.yaml as it stands)")
    parser.add_argument("--fp32-body", type=Path, default=paths.SETFIT.model,
                        help="the setfit stage's fp32 model, trained with the profile's settings")
    parser.add_argument("--check", action="store_true", help="only compare the emulation with real autocast")
    parser.add_argument("--out", type=Path, default=Path("results/setfit_precision.json"))
    args = parser.parse_args(argv)
    params = load_profile(args.profile)
    model_name, cfg = settings.setfit(params)
    native = precision.native_bf16(precision.accelerator())
    print(f"machine: {machine()}; bf16 {'native (autocast)' if native else 'emulated (see --help)'}")
    if not (args.fp32_body / "model_head.pkl").exists():
        raise SystemExit(f"{args.fp32_body}: no SetFit model there; run `dvc repro setfit` first")
    fp32_model = setfit.SetFitModel.from_pretrained(str(args.fp32_body))

    labels = prepared.dataset_info("classification")["labels"]
    test = prepared.subset(prepared.with_row_ids(prepared.read_split(paths.PREPARED_CLASSIFICATION, "test")), cfg.max_eval_samples,
                       prepared.EVAL_ROWS_SEED)
    n, seed = cfg.main_samples_per_class, cfg.seeds[0]
    train = draw_samples(prepared.read_split(paths.PREPARED_CLASSIFICATION, "train").to_dict(), [n], cfg.sample_seed,
                         "setfit", labels)[n]
    if args.check:
        result = check(fp32_model.model_body, train["text"][:8])
        print(json.dumps(result, indent=2))
        return

    set_seed(seed)
    start = time.perf_counter()
    with fp32_kernels(native):  # the setfit stage's own bf16 path: an autocast around training
        trainer, _, _ = train_setfit(model_name, train, labels, cfg.training_args(seed), "bf16", cfg.length_buckets,
                                     cfg.unique_sentences)
    bf16_seconds = time.perf_counter() - start
    bodies = {"fp32": fp32_model, "bf16": trainer.model}

    texts, gold = (list(train["text"]), list(test["text"])), list(test["label"])
    cells, units = {}, {}  # keyed by (trained in, encoded in)
    for trained, model in bodies.items():
        for encoded in ("fp32", "bf16"):
            with torch.inference_mode(), precision.autocast(encoded), fp32_kernels(native):
                x_train, x_test = (np.asarray(model.model_body.encode(split, normalize_embeddings=model.normalize_embeddings,
                                                                      convert_to_numpy=True), dtype=np.float32)
                                   for split in texts)
            head = clone(model.model_head).fit(x_train, train["label"])  # float64, as setfit's own fit
            pred = head.predict(x_test).tolist()
            cells[trained, encoded] = classification_metrics(gold, pred, labels)
            units[trained, encoded] = stats.classification_units(gold, pred, len(labels))
    reference = ("fp32", "fp32")
    bootstrap = settings.bootstrap(params)
    for key, cell in cells.items():
        if key != reference:
            cell["f1_minus_fp32"] = stats.paired(units[key], units[reference], "f1", bootstrap.resamples, bootstrap.seed)
    bf16 = "native autocast" if native else "emulated"
    print(f"\n{machine()}: SetFit {model_name}, {n} per class, seed {seed}, bf16 {bf16}")
    print("| body trained in | encoded in | test F1 | minus fp32 throughout (95 % CI, p) |\n| --- | --- | --- | --- |")
    for (trained, encoded), cell in cells.items():
        diff = cell.get("f1_minus_fp32")
        shown = "" if diff is None else f"{diff['difference']:+.3f} [{diff['ci95'][0]:+.3f}, {diff['ci95'][1]:+.3f}], p = {diff['p_value']:.3f}"
        print(f"| {trained} | {encoded} | {cell['f1']:.3f} | {shown} |")
    results = {"machine": machine(), "bf16": bf16, "model": model_name, "samples_per_class": n, "seed": seed,
               "test_rows": len(test), "bf16_train_seconds": bf16_seconds,
               "cells": {f"train {trained}, encode {encoded}": cell for (trained, encoded), cell in cells.items()}}
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
