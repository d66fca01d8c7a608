"""Run a model the pipeline trained on new texts; one JSON line per text, in input order.

    python -m tools.predict reviews.txt                          # sentiment: the `full` run's model
    echo "My name is Maarten and I live in Paris" | python -m tools.predict --task ner
    python -m tools.predict --model data/models/setfit reviews.jsonl --field review -o out.jsonl

Input: a file or standard input (`-`, the default), one text a line, or JSON Lines with `--field`.
Output: sentiment and SetFit: {"text", "label", "scores": {label: probability}}; NER: {"text",
"entities": [{"type", "text", "words", "start", "end", "score"}]} (character offsets into the text).
Texts longer than the model's window: sentiment and SetFit truncate them (a note names the lines and
the line says "truncated": true); NER splits them into overlapping windows, so no entity is lost.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

from stages.lib.models import predict
from stages.lib.config.params import stage_main
from stages.lib.runtime.errors import PipelineError
from stages.lib.runtime.outputs import write_jsonl


def arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.predict", description=__doc__.splitlines()[0])
    parser.add_argument("input", nargs="?", default="-", help="text file, JSON Lines file, or - for stdin")
    parser.add_argument("--task", choices=predict.KINDS,
                        help="the pipeline's main model for this task (default: sentiment); not needed with --model")
    parser.add_argument("--model", type=Path, help="a model folder under data/models/")
    parser.add_argument("--field", help="the JSON field holding the text (the input is JSON Lines)")
    parser.add_argument("-o", "--output", type=Path, help="JSON Lines file to write (default: stdout)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto",
                        help="auto: native bf16 where the hardware has it (as training picks it), else fp32")
    args = parser.parse_args(argv)
    if args.field is None and args.input.endswith((".jsonl", ".json")):
        args.field = "text"
    if args.batch_size < 1:
        parser.error(f"--batch-size must be at least 1, got {args.batch_size}")
    return args


@stage_main
def main(argv=None) -> None:
    args = arguments(argv)
    model = args.model or predict.MAIN_MODELS[args.task or "sentiment"]
    if not Path(model).is_dir():
        raise PipelineError(f"{model}: no such model folder (run `dvc repro` to train it, or name one with --model)")
    kind = predict.model_kind(model)
    if args.task and kind != args.task:
        raise PipelineError(f"{model}: a {kind} model, not {args.task} (--task)")
    name = "<stdin>" if args.input == "-" else args.input
    try:
        raw = sys.stdin.buffer.read() if args.input == "-" else Path(args.input).read_bytes()
    except OSError as e:
        raise PipelineError(f"{name}: cannot read ({e.strerror})") from None
    texts = predict.read_texts(raw, name, args.field)
    predictor = predict.Predictor(model, args.precision, args.batch_size)
    long = predictor.too_long(texts)
    if long and predictor.kind != "ner":
        lines = ", ".join(str(t.line) for t in long[:10]) + (", ..." if len(long) > 10 else "")
        print(f"note: {name}: {len(long)} text(s) longer than the model's {predictor.window} tokens were "
              f"truncated (lines {lines})", file=sys.stderr)
    print(f"predict: {len(texts)} texts, {predictor.kind} model {model}, {predictor.device} {predictor.precision}",
          file=sys.stderr)
    with tqdm(total=len(texts), unit="text", disable=len(texts) <= args.batch_size, file=sys.stderr) as bar:
        rows = predictor([t.text for t in texts], bar)
    if predictor.kind != "ner":
        truncated = {t.line for t in long}
        for text, row in zip(texts, rows):
            if text.line in truncated:
                row["truncated"] = True
    if args.output:
        write_jsonl(args.output, rows)  # atomic: a failed run leaves no partial file
    else:
        sys.stdout.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


if __name__ == "__main__":
    main()
