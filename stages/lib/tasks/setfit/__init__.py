"""SetFit few-shot classification (fewshot: training, the learning curve, the saved model) and what
makes its steps cheaper (buckets: length buckets inside a batch; pair_loss: each distinct sentence
of a step's pairs embedded once)."""
