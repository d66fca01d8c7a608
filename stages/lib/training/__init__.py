"""What any training run uses, whatever trains it (the Hugging Face Trainer or SetFit): the Trainer
as configured here (trainer), resumable checkpoints (checkpoints), the loop over a stage's runs
(points) and peak memory (memory). Imports everything before it."""
