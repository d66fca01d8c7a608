"""Tiny randomly initialised encoders of each family, with a tokenizer of the family's kind trained
here in a second (WordPiece, byte-level BPE, SentencePiece Unigram): no download. `save(family,
folder)` writes a folder the stages load like a Hub model."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from tokenizers import ByteLevelBPETokenizer, SentencePieceUnigramTokenizer
from transformers import (AlbertTokenizerFast, AutoConfig, AutoModelForMaskedLM, BertTokenizerFast,
                          DebertaV2TokenizerFast, DistilBertTokenizerFast, ElectraTokenizerFast,
                          MPNetTokenizerFast, RobertaTokenizerFast, XLMRobertaTokenizerFast)

CORPUS = ["My name is Maarten and I work at Hugging Face in Paris .", "Homer lives in Springfield .",
          "A warm , funny and moving film .", "Dull and far too long .", "EU rejects German call to boycott British lamb ."]
WINDOW = 64  # tokens; texts are cut here, as MiniLM's 512
SIZE = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 37}

# family -> (tokenizer kind, tokenizer class, where its blocks are)
FAMILIES = {
    "bert": ("wordpiece", BertTokenizerFast, "encoder.layer"),
    "distilbert": ("wordpiece", DistilBertTokenizerFast, "transformer.layer"),
    "electra": ("wordpiece", ElectraTokenizerFast, "encoder.layer"),
    "mpnet": ("wordpiece", MPNetTokenizerFast, "encoder.layer"),
    "roberta": ("bpe", RobertaTokenizerFast, "encoder.layer"),
    "modernbert": ("bpe", RobertaTokenizerFast, "layers"),  # ModernBERT's own is a byte-level BPE too
    "xlm-roberta": ("unigram", XLMRobertaTokenizerFast, "encoder.layer"),
    "deberta-v2": ("unigram", DebertaV2TokenizerFast, "encoder.layer"),
    "albert": ("unigram", AlbertTokenizerFast, None),  # one block shared by every layer
}


def tokenizer(family: str, folder: Path):
    kind, cls, _ = FAMILIES[family]
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "wordpiece":
        specials = (["<s>", "<pad>", "</s>", "[UNK]", "<mask>"] if family == "mpnet"
                    else ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
        words = sorted({w.lower() for text in CORPUS for w in text.split()})
        chars = sorted({c for w in words for c in w})
        vocab = dict.fromkeys([*specials, *chars, *(f"##{c}" for c in chars), *words])  # "a" is a char and a word
        tok = cls(vocab={t: i for i, t in enumerate(vocab)})
    elif kind == "bpe":
        bpe = ByteLevelBPETokenizer()
        bpe.train_from_iterator(CORPUS, vocab_size=400, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
        bpe.save_model(str(folder))
        merges = [tuple(line.split()) for line in (folder / "merges.txt").read_text().splitlines()[1:] if line]
        tok = cls(vocab=json.loads((folder / "vocab.json").read_text()), merges=merges)
    else:
        unigram = SentencePieceUnigramTokenizer()
        unigram.train_from_iterator(CORPUS, vocab_size=120, unk_token="<unk>",
                                    special_tokens=["<pad>", "<unk>", "<s>", "</s>", "<mask>", "[CLS]", "[SEP]", "[MASK]"])
        unigram.save(str(folder / "unigram.json"))
        tok = cls(tokenizer_file=str(folder / "unigram.json"))
    tok.model_max_length = WINDOW
    return tok


def config(family: str, vocab_size: int, tok=None, **extra):
    size = {**SIZE, **extra}
    if family == "distilbert":
        size["hidden_dim"] = size.pop("intermediate_size")
    if family == "modernbert":
        size["global_attn_every_n_layers"] = 2
    ids = {} if tok is None else {f"{name}_token_id": getattr(tok, f"{name}_token_id")
                                  for name in ("pad", "bos", "eos", "cls", "sep") if getattr(tok, f"{name}_token_id", None) is not None}
    if family == "modernbert" and tok is None:
        ids = {f"{name}_token_id": 0 for name in ("pad", "bos", "eos", "cls", "sep")}
    return AutoConfig.for_model(family, vocab_size=vocab_size, max_position_embeddings=WINDOW + 2, **size, **ids)


def model(family: str, auto_class, **extra):
    """A tiny model of `family` without a tokenizer (for structure-only tests)."""
    torch.manual_seed(0)
    return auto_class.from_config(config(family, 99, **extra))


def save(family: str, folder: Path, **extra) -> Path:
    """A tiny masked-LM checkpoint of `family` and its tokenizer in `folder`: a base model the
    sentiment, NER and MLM stages load (their heads start fresh, as from MiniLM). `extra`: config
    keys (e.g. num_hidden_layers)."""
    tok = tokenizer(family, folder)
    torch.manual_seed(0)
    AutoModelForMaskedLM.from_config(config(family, len(tok), tok, **extra)).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder
