"""What a trained model says of itself: its model card (cards) and the machine it ran on (machine).
Imports runtime, config, data, models and scoring."""
