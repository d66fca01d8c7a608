"""The chapter's tasks on the training skeleton: sentence classification (sentiment), NER (ner),
masked-LM pretraining (mlm), and SetFit few-shot (setfit, with its pair loss and length buckets).
A task imports the packages before it, never another task."""
