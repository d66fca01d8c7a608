"""The one training skeleton every Trainer stage runs (loop), with its Task protocol, and the
training curves it writes (curves). Knows no task: a task hands it its model, tokenization, scoring
and any speed-up. Imports everything before it, never tasks."""
