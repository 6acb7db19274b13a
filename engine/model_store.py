"""Where generation models come from: the shipped default model, a generator folder of one's
own (trained with ``stemloom train``), or the test-only tiny one."""

from __future__ import annotations

from pathlib import Path

from engine.generation import Generator, NoTrainedModel

RANDOM_TINY = "random-tiny"
MODEL_NAMES = ("default", RANDOM_TINY)


def load_generator(name: str) -> Generator:
    """Load a generator by name ('default', 'random-tiny') or by the path of a generator
    folder; NoTrainedModel when the trained weights are not there."""
    if name == RANDOM_TINY:
        from engine.models.random_tiny import RandomTinyGenerator

        return RandomTinyGenerator()
    from engine.generator.io import DEFAULT_DIR, installed

    folder = DEFAULT_DIR if name == "default" else Path(name)
    if name != "default" and not folder.is_dir():
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODEL_NAMES)}, or the "
                         "path of a generator folder")
    if not installed(folder):
        raise NoTrainedModel(
            f"No trained generator is installed in {folder} (it needs semantic.pt, coarse.pt "
            "and semantic_tokenizer.npz). The default one ships in the repository: "
            "reinstall from a full checkout, or train one (docs/training.md)."
        )
    from engine.generator.pipeline import load_default

    return load_default(folder)
