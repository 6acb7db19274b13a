"""The training foundation every Stemloom model stage reuses.

``config`` (dataclasses from TOML), ``distributed`` (torchrun/DDP: gloo on CPU, NCCL on GPU),
``checkpoint`` (resumable state: model, optimizer, step, RNG), ``export`` (shippable
inference weights), ``log`` (JSONL) and ``loop`` (one entry point: ``run(stage, config)``).
A stage is a ``Task``: it builds its model and says what one step's loss is; the loop does
the rest.
"""
