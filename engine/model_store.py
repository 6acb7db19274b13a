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
        raise NoTrainedModel(
            f"No trained model is installed (looked in {DEFAULT_MODEL_DIR}). Stemloom's "
            "default model has not been trained and shipped yet, so it cannot make music. "
            "The engine still serves the protocol; '--model random-tiny' runs an untrained "
            "network that makes noise, for tests only."
        )
    raise ValueError(f"unknown model {name!r}; known: {', '.join(MODEL_NAMES)}")
