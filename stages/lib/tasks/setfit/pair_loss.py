"""SetFit's contrastive loss with each distinct sentence of a step embedded once.

A step's 16 pairs take their 32 sentences from the few-shot examples (32 at 16 per class), so many
are repeats: about 64 % are distinct (1 - (1 - 1/32)^32). setfit's CosineSimilarityLoss runs the body
over every copy, one column of the pairs at a time. Here the step's sentences go through the body once
each, in one batch, and each pair reads its two embeddings from that. The loss is the same, and so are
the gradients (a repeated sentence's gradient is the sum over its uses, as through two copies); only
the dropout differs, one mask per distinct sentence instead of one per copy.
"""
from __future__ import annotations

import torch
from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss
from torch.nn import functional as F


def distinct_rows(columns: list[dict]) -> tuple[dict, torch.Tensor] | None:
    """The columns' batches (each {name: (rows, width) tensor}, right-padded, plus values shared by
    the batch such as sentence-transformers' modality) as one batch of their distinct sentences, cut to
    its longest, and for each row of the columns, in order, the index of its sentence in it. None where
    that can't be done exactly: other kinds of features, or left padding (a token's position counts
    the padding before it)."""
    first = columns[0]
    tensors = [k for k, v in first.items() if torch.is_tensor(v)]
    if ("attention_mask" not in tensors or any(set(c) != set(first) for c in columns)
            or any(c[k].dim() != 2 for c in columns for k in tensors)
            or any(c[k] != v for c in columns for k, v in first.items() if k not in tensors)):
        return None
    width = max(c["attention_mask"].shape[1] for c in columns)
    batch = {k: torch.cat([F.pad(c[k], (0, width - c[k].shape[1])) for c in columns]) for k in tensors}
    mask = batch["attention_mask"]
    if not mask[:, 0].all():
        return None
    # a sentence is its real tokens: the padding after them differs between columns
    key = torch.cat([batch[k] * mask for k in sorted(tensors) if k != "attention_mask"] + [mask], dim=1)
    _, index = torch.unique(key, dim=0, return_inverse=True)
    rows = torch.arange(len(index), device=index.device)
    once = torch.full((int(index.max()) + 1,), len(index), device=index.device).scatter_reduce(0, index, rows, "amin")
    longest = int(mask[once].sum(dim=1).max())
    shared = {k: v for k, v in first.items() if k not in tensors}
    return {**shared, **{k: v[once, :longest] for k, v in batch.items()}}, index


class UniqueSentencesLoss(CosineSimilarityLoss):
    """CosineSimilarityLoss, each distinct sentence of a step embedded once (`rows`: how many
    sentences the body ran over, `copies`: how many the pairs held)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rows, self.copies = 0, 0

    def forward(self, sentence_features, labels: torch.Tensor) -> torch.Tensor:
        columns = list(sentence_features)
        distinct = distinct_rows(columns)
        if distinct is None:
            return super().forward(columns, labels)
        batch, index = distinct
        self.rows, self.copies = self.rows + len(batch["attention_mask"]), self.copies + len(index)
        embeddings = self.model(batch)["sentence_embedding"][index]
        return self.compute_loss_from_embeddings(list(embeddings.split([len(c["attention_mask"]) for c in columns])),
                                                 labels)
