"""The records (data/prepared/<task>.json) prepare writes for the default datasets (stages.lib.data.sources.builtin.describe), for
tests that build a task without running prepare."""
from stages.lib.data.sources.builtin import NER_TAGS, ROTTEN_TOMATOES_LABELS, describe

ROTTEN_TOMATOES = describe("Rotten Tomatoes", "cornell-movie-review-data/rotten_tomatoes", True, ROTTEN_TOMATOES_LABELS, True)
CONLL2003 = describe("CoNLL-2003", "eriktks/conll2003", True, NER_TAGS, True)
