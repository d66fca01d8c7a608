"""Benchmark: levers measured on the way (docs/performance.md), re-measurable on any machine.

    python -m bench.levers compile         # torch.compile per length bucket against eager (~6 min)
    python -m bench.levers dropout         # dropout's random mask against the other random draws (~10 s)
    python -m bench.levers lora-dropout    # a LoRA step with the adapters' dropout 0.1 against 0 (~1 min)

compile: optimizer steps (forward, backward, fused AdamW) of the profile's classifier at batch 16 on
padded lengths 16..64, the buckets length grouping would compile, eagerly and under torch.compile:
with the default automatic dynamic shapes, and with `dynamic=False` (one graph per bucket). Prints
each bucket's first step (compiling) and its steady step time.

dropout: what a training step's dropout costs on this CPU: the mask draw (`bernoulli_`), the other
ways of drawing one, and the multiply it feeds, on one MiniLM activation of batch 16 x 30 tokens.

lora-dropout: optimizer steps of the profile's lora_r16 run (adapters from stages/lib/models/lora.py) at
batch 16 x 32 tokens, with the adapters' dropout at 0.1 and at 0, alternated twice.
"""
from __future__ import annotations

import argparse
import time
from functools import partial

import torch

LENGTHS = (16, 32, 48, 64)


def timed(step, repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - start) / repeats


def optimizer_step(run, optimizer, ids: torch.Tensor) -> None:
    """One training step (forward, backward, AdamW) of `run` on a batch of token ids."""
    run(input_ids=ids, attention_mask=torch.ones_like(ids), labels=torch.randint(0, 2, (len(ids),))).loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def compile_buckets(model_name: str, steps: int) -> None:
    from transformers import AutoModelForSequenceClassification

    from stages.lib.models.loading import resolve_model

    modes = {"eager": lambda model: model, "compile": torch.compile,
             "compile, dynamic=False": lambda model: torch.compile(model, dynamic=False)}
    for mode, wrap in modes.items():
        torch.manual_seed(0)
        model = AutoModelForSequenceClassification.from_pretrained(resolve_model(model_name), num_labels=2).train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5, fused=True)
        run = wrap(model)
        for length in LENGTHS:
            step = partial(optimizer_step, run, optimizer, torch.randint(1000, 20000, (16, length)))
            first = timed(step, 1)
            print(f"{mode:>22}: length {length}: first step {first:5.1f} s, then {timed(step, steps) * 1000:4.0f} ms a step",
                  flush=True)


def lora_dropout(model_name: str, lora, steps: int) -> None:
    from transformers import AutoModelForSequenceClassification

    from stages.lib.models.lora import apply_lora
    from stages.lib.models.loading import resolve_model

    ids = torch.randint(1000, 20000, (16, 32))
    for dropout in (0.1, 0.0) * 2:
        torch.manual_seed(0)
        model = AutoModelForSequenceClassification.from_pretrained(resolve_model(model_name), num_labels=2)
        model = apply_lora(model, lora.model_copy(update={"dropout": dropout}), "bench").train()
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-4, fused=True)
        step = partial(optimizer_step, model, optimizer, ids)
        timed(step, 3)
        print(f"LoRA rank {lora.rank}, dropout {dropout}: {timed(step, steps) * 1000:4.0f} ms a step", flush=True)


def dropout_draws(repeats: int) -> None:
    x = torch.randn(16 * 30, 384)
    draws = {
        "F.dropout(p=0.1), training": lambda: torch.nn.functional.dropout(x, 0.1, True),
        "bernoulli_ (the mask)": lambda: torch.empty_like(x).bernoulli_(0.9),
        "rand_like": lambda: torch.rand_like(x),
        "random_ into int32": lambda: torch.empty(x.shape, dtype=torch.int32).random_(),
        "x * x (the multiply it feeds)": lambda: x * x,
    }
    for name, draw in draws.items():
        draw()
        seconds = timed(draw, repeats)
        print(f"{name:>30}: {seconds * 1e6:7.0f} us, {x.numel() / seconds / 1e6:6.0f} M elements/s")


def main(argv: list[str] | None = None) -> None:
    from stages.lib.config import settings
    from stages.lib.config.params import load_profile
    from stages.lib.reporting.machine import machine

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lever", choices=("compile", "dropout", "lora-dropout"))
    parser.add_argument("--profile", help="whose classifier_model (compile, lora-dropout; default: params.yaml's)")
    parser.add_argument("--steps", type=int, default=15, help="timed steps a bucket or mode")
    args = parser.parse_args(argv)
    print(f"machine: {machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    params = load_profile(args.profile)
    if args.lever == "compile":
        model_name, _, _ = settings.fine_tune_run(params, "full")
        compile_buckets(model_name, args.steps)
    elif args.lever == "lora-dropout":
        model_name, spec, _ = settings.fine_tune_run(params, "lora_r16")
        lora_dropout(model_name, spec.lora, args.steps)
    else:
        dropout_draws(200)


if __name__ == "__main__":
    main()
