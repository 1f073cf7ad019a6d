"""The engine: TrainConfig -> TrainResult on transformers' Trainer, batching, events, checkpoints, saving, scale-out."""
