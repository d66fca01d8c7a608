"""Models: where weights come from and how they load (loading), freezing by the model's structure
(freezing), LoRA adapters (lora), frozen layers run once (cached), and a saved model on new texts
(predict). Imports runtime, config and data."""
