"""Where generation models come from: the shipped default model, or the test-only tiny one."""

from __future__ import annotations

from pathlib import Path

from engine.generation import Generator, NoTrainedModel

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "weights" / "default"
RANDOM_TINY = "random-tiny"
MODEL_NAMES = ("default", RANDOM_TINY)


def load_generator(name: str) -> Generator:
    """Load a generator by name; NoTrainedModel when its trained weights are not installed."""
    if name == RANDOM_TINY:
        from engine.models.random_tiny import RandomTinyGenerator

        return RandomTinyGenerator()
    if name == "default":
        from engine.generator.io import DEFAULT_DIR, installed

        if not installed(DEFAULT_DIR):
            raise NoTrainedModel(
                f"No trained generator is installed (looked in {DEFAULT_DIR}). Reinstall "
                "Stemloom from a full checkout (the weights ship in the repository), or "
                "train one: see docs/training.md."
            )
        from engine.generator.pipeline import load_default

        return load_default()
    raise ValueError(f"unknown model {name!r}; known: {', '.join(MODEL_NAMES)}")
