"""The chapter's tasks on the training skeleton: sentence classification (sentiment), NER (ner),
masked-LM pretraining (mlm), and SetFit few-shot (the setfit package). A task imports the packages
before it, never another task."""
