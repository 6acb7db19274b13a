"""The generator's files: one exported weight file per stage plus the semantic codebook.

    DIR/semantic.pt  DIR/coarse.pt  [DIR/fine.pt]   stage weights (fp16), config, step
    DIR/semantic_tokenizer.npz                       feature standardisation + k-means centroids

The fine stage is optional: without it the codec decodes the coarse levels alone (its
quantizer dropout trained it to), which is what ships while a fine stage trained here does
not beat that (see the model card).
"""

from __future__ import annotations

from pathlib import Path

from engine.generator.model import STAGES, StageConfig, StageModel
from engine.generator.semantic import SemanticTokenizer
from engine.training.export import export_weights, load_weights

DEFAULT_DIR = Path(__file__).resolve().parents[1] / "weights" / "default" / "generator"
TOKENIZER = "semantic_tokenizer.npz"


def stage_path(directory: Path, stage: str) -> Path:
    """Where a stage's exported weights live."""
    return Path(directory) / f"{stage}.pt"


def export_stage(model: StageModel, directory: Path, step: int, extra: dict | None = None
                 ) -> Path:
    """Write a stage's inference weights (fp16) to ``directory``."""
    return export_weights(model.state_dict(), model.cfg.to_dict(),
                          stage_path(directory, model.cfg.stage), step, extra=extra)


def load_stage(path: Path) -> StageModel:
    """An exported stage, fp32, in eval mode."""
    blob = load_weights(Path(path))
    model = StageModel(StageConfig(**blob["config"]))
    model.load_state_dict(blob["state"])
    return model.eval()


REQUIRED = ("semantic", "coarse")


def installed(directory: Path = DEFAULT_DIR) -> bool:
    """True when the required stages and the tokenizer are present in ``directory``."""
    return all(stage_path(directory, s).is_file() for s in REQUIRED) and (
        Path(directory) / TOKENIZER).is_file()


def load_stages(directory: Path = DEFAULT_DIR) -> tuple[dict[str, StageModel],
                                                         SemanticTokenizer]:
    """The stages present in ``directory`` (semantic and coarse at least) and the semantic
    tokenizer."""
    stages = {s: load_stage(stage_path(directory, s)) for s in STAGES
              if stage_path(directory, s).is_file()}
    return stages, SemanticTokenizer.load(Path(directory) / TOKENIZER)
