"""The raw files of the two datasets, rebuilt from the Hugging Face Hub through the stages' own Hub
path, for a machine without ../shared/datasets (a user's fresh clone):

    python -m tests.raw_from_hub DEST     # DEST/rotten_tomatoes/rt-polarity.{pos,neg}, DEST/conll2003/*.txt

The raw readers turn these files back into exactly the Hub's rows (the Hub's text is the original
Latin-1 lines, stripped; the POS and chunk columns, which the pipeline does not read, are written as X).
"""
import sys
from pathlib import Path

from stages.lib.data.sources import builtin
from stages.lib.runtime.errors import PipelineError


def write_raw(dest: Path) -> None:
    rotten, _ = builtin.rotten_tomatoes_from_hub(*builtin.HUB["rotten_tomatoes"])
    conll, _ = builtin.conll_from_hub(*builtin.HUB["conll2003"])
    folder = dest / "rotten_tomatoes"
    folder.mkdir(parents=True, exist_ok=True)
    for name, label in (("rt-polarity.pos", 1), ("rt-polarity.neg", 0)):
        lines = [text for split in builtin.SPLITS for text, y in zip(rotten[split]["text"], rotten[split]["label"])
                 if y == label]
        (folder / name).write_bytes("".join(f"{line}\n" for line in lines).encode("latin-1"))
    folder = dest / "conll2003"
    folder.mkdir(parents=True, exist_ok=True)
    for split, name in builtin.CONLL_FILES.items():
        sentences = zip(conll[split]["tokens"], conll[split]["ner_tags"])
        (folder / name).write_text("".join(
            "".join(f"{token} X X {builtin.NER_TAGS[tag]}\n" for token, tag in zip(tokens, tags)) + "\n"
            for tokens, tags in sentences), encoding="utf-8")


if __name__ == "__main__":
    try:
        write_raw(Path(sys.argv[1]))
    except PipelineError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
