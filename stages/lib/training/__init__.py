"""The one training skeleton (loop) with its Task protocol, the Trainer subclass (trainer), resumable
checkpoints (checkpoints), training curves (curves) and peak memory (memory). Knows no task: a task
hands it its model, tokenization, scoring and any speed-up. Imports everything before it, never tasks."""
