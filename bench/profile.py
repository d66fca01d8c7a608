"""Benchmark: where a training step's time goes, per kind of operator, on this machine.

    python -m bench.profile                      # or `make bench`: the cpu profile's full run, ~1 min
    python -m bench.profile --run lora_r16 --steps 40

Trains `--steps` optimizer steps of a fine-tune run (the profile's model and settings, the real
Trainer and batches of the training path) under torch.profiler after a few warm-up steps, and sums
each operator's own time (children excluded, so nothing counts twice) into a few kinds: matmuls,
attention, dropout, normalisation, activations, embeddings, the optimizer, copies and casts, and the
rest. Prints a Markdown table and writes it to results/profile_<run>.json.
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

# operator kind -> pattern on the profiler's operator names (first match wins; order matters)
KINDS = {
    "optimizer": r"Optimizer\.step|_foreach_|adamw|_fused_adam",
    "matmul": r"aten::(addmm|mm|bmm|baddbmm|matmul|linear)$",
    "attention": r"scaled_dot_product|_softmax|aten::softmax|flash_attention",
    "dropout": r"dropout|bernoulli",
    "normalisation": r"layer_norm",
    "activation": r"gelu|tanh|relu|silu",
    "embedding": r"embedding",
    "copies and casts": r"aten::(copy_|to|_to_copy|contiguous|clone|cat|stack|index|index_select|"
                        r"index_put_|pad|constant_pad_nd|_local_scalar_dense|item)$",
    "elementwise": r"aten::(add|add_|mul|mul_|div|div_|sub|rsub|sum|mean|fill_|zero_|zeros|ones|"
                   r"empty|empty_like|masked_fill|where|neg|sqrt|pow|exp|sign)$",
}


def kind_of(name: str) -> str:
    for kind, pattern in KINDS.items():
        if re.search(pattern, name):
            return kind
    return "other"


def breakdown(events) -> dict[str, float]:
    """Seconds of own (self) CPU time per kind (the optimizer: its foreach / fused kernels)."""
    totals = dict.fromkeys([*KINDS, "other"], 0.0)
    for event in events:
        totals[kind_of(event.key)] += event.self_cpu_time_total / 1e6
    return totals


def main(argv: list[str] | None = None) -> None:
    import torch
    from torch.profiler import ProfilerActivity, profile
    from transformers import TrainerCallback

    from stages.lib.data import prepared
    from stages.lib.config import settings
    from stages.lib.config.params import load_profile
    from stages.lib.reporting.machine import machine
    from stages.lib.config.paths import PREPARED_CLASSIFICATION
    from stages.lib.tasks.sentiment import SentimentTask
    from stages.lib.skeleton.loop import train_and_evaluate

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="full", help="a key of runs (params.yaml)")
    parser.add_argument("--profile", help="conf/profile/<name> (default: params.yaml as it stands)")
    parser.add_argument("--steps", type=int, default=30, help="profiled optimizer steps")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None, help="default: results/profile_<run>.json")
    args = parser.parse_args(argv)
    print(f"machine: {machine()}")

    params = load_profile(args.profile)
    model_name, spec, hps = settings.fine_tune_run(params, args.run)
    hp = hps[0].model_copy(update={"max_train_samples": (args.steps + args.warmup) * hps[0].batch_size, "epochs": 1,
                                   "max_eval_samples": 16})  # the skeleton scores a few rows after training
    task = SentimentTask(spec, settings.bootstrap(params), prepared.dataset_info("classification"), ("test",))

    prof = profile(activities=[ProfilerActivity.CPU], schedule=torch.profiler.schedule(
        wait=0, warmup=args.warmup, active=args.steps, repeat=1))

    class Step(TrainerCallback):
        def on_step_end(self, *_, **__):
            prof.step()

    with prof:  # the training path of the stages: the skeleton's own Trainer, with the profiler's callback
        train_and_evaluate(task, model_name, hp, PREPARED_CLASSIFICATION, on_trainer=lambda trainer: trainer.add_callback(Step()))
    totals = breakdown(prof.key_averages())
    whole = sum(totals.values())
    print(f"\n{machine()}: {model_name}, run {args.run} ({spec}), batch {hp.batch_size}, precision {hp.precision}, "
          f"{args.steps} steps: {whole / args.steps * 1000:.0f} ms of operator time a step")
    print("| kind | ms a step | share |\n| --- | --- | --- |")
    for kind, seconds in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"| {kind} | {seconds / args.steps * 1000:.0f} | {seconds / whole:.0%} |")
    top = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:12]
    print("\ntop operators (own time): " + ", ".join(f"{e.key} {e.self_cpu_time_total / 1e3 / args.steps:.0f} ms"
                                                     for e in top))
    out = args.out or Path(f"results/profile_{args.run}.json")
    out.write_text(json.dumps({"machine": machine(), "model": model_name, "run": args.run, "steps": args.steps,
                               "precision": hp.precision, "ms_per_step": {k: v / args.steps * 1000 for k, v in totals.items()},
                               "top_operators_ms_per_step": {e.key: e.self_cpu_time_total / 1e3 / args.steps for e in top}},
                              indent=2) + "\n")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
