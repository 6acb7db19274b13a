"""``stemloom eval mulan``: text->audio retrieval among 100 held-out clips, with template
captions and with hand-written ones, and linear probes of what the audio embedding knows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from engine.mulan.api import MulanConditioner
from engine.mulan.dataset import FeatureCache

# Written by hand, in words the caption templates never use; one per corpus genre.
HAND_WRITTEN_GENRES = {
    "lo-fi hip hop": "sleepy study music with a dusty, hazy feel",
    "metal": "loud crushing guitars and pounding double kick, furious",
    "synthwave": "retro night drive through a neon eighties city",
    "disco": "roller rink dance floor from the seventies, kick on every beat",
    "drum and bass": "frantic chopped breaks over a deep rolling low end",
    "cinematic": "a sweeping film score for an epic scene",
    "r&b": "smooth late night slow jam for two",
    "boom bap": "nineties new york rap instrumental with a hard snare",
    "reggae": "island groove with the guitar chopping on the offbeat",
    "funk": "tight syncopated grooves that make you move, slap bass",
    "ambient": "floating washes of sound with no beat at all, meditative",
    "bossa nova": "gentle brazilian guitar at a seaside cafe",
    "rock": "a garage band playing loud with live drums",
    "techno": "hypnotic warehouse loop at 4am",
    "pop ballad": "a tearful love song for the radio",
    "jazz": "a late night combo in a smoky club, walking bass",
    "house": "uplifting club track with piano stabs and a steady thump",
    "trap": "booming sub bass and rattling hi-hats",
}
HAND_WRITTEN_TEMPI = {"slow": "taking its time", "mid": "at an easy walking pace",
                      "fast": "racing ahead"}


def tempo_band(bpm: float) -> str:
    """slow (< 90), mid (90-129) or fast (>= 130)."""
    return "slow" if bpm < 90 else ("mid" if bpm < 130 else "fast")


def _mix_items(cache: FeatureCache) -> list[int]:
    return [i for i, item in enumerate(cache.items) if item["kind"] == "mix"]


def recall_at(similarity: np.ndarray, relevant: np.ndarray, ks: tuple[int, ...] = (1, 10)
              ) -> dict[str, float]:
    """Share of queries (rows) with a relevant clip among their top k."""
    order = np.argsort(-similarity, axis=1)
    hits = np.take_along_axis(relevant, order, axis=1)
    return {f"R@{k}": float(hits[:, :k].any(1).mean()) for k in ks}


def chance_recall(relevant: np.ndarray, k: int) -> float:
    """Expected R@k of a random ranking with the same relevant sets."""
    n = relevant.shape[1]
    counts = relevant.sum(1)
    miss = [np.prod([max(0, n - c - i) / (n - i) for i in range(min(k, n))]) for c in counts]
    return float(1 - np.mean(miss))


def retrieval(conditioner: MulanConditioner, cache: FeatureCache, clips: int = 100,
              seed: int = 0) -> dict[str, dict[str, float]]:
    """Template-caption and hand-written-caption retrieval among ``clips`` held-out clips."""
    rng = np.random.default_rng(seed)
    items = _mix_items(cache)
    chosen = [items[i] for i in rng.choice(len(items), size=min(clips, len(items)),
                                           replace=False)]
    audio = np.stack([conditioner.embed_mel(cache.item_mel(i)) for i in chosen])
    template_queries = [cache.caption_texts[int(rng.choice(cache.items[i]["captions"]))]
                        for i in chosen]
    template = conditioner.embed_text(template_queries) @ audio.T
    exact = np.eye(len(chosen), dtype=bool)
    genres = [cache.items[i]["genre"] for i in chosen]
    bands = [tempo_band(cache.items[i]["bpm"]) for i in chosen]
    hand_queries = [f"{HAND_WRITTEN_GENRES[g]}, {HAND_WRITTEN_TEMPI[b]}"
                    for g, b in zip(genres, bands, strict=True)]
    hand = conditioner.embed_text(hand_queries) @ audio.T
    matches = np.array([[g == h and b == c for h, c in zip(genres, bands, strict=True)]
                        for g, b in zip(genres, bands, strict=True)])
    shuffled = rng.permutation(len(chosen))
    return {
        "template": {**recall_at(template, exact), "chance_R@10": chance_recall(exact, 10),
                     "shuffled_R@10": recall_at(template[shuffled], exact)["R@10"]},
        "hand_written": {**recall_at(hand, matches), "chance_R@1": chance_recall(matches, 1),
                         "chance_R@10": chance_recall(matches, 10)},
    }


def _probe_labels(cache: FeatureCache, items: list[int], attribute: str) -> list[str]:
    if attribute == "tempo":
        return [tempo_band(cache.items[i]["bpm"]) for i in items]
    if attribute.startswith("has_"):
        family = attribute.removeprefix("has_")
        return [str(family in cache.items[i]["instruments"]) for i in items]
    return [str(cache.items[i][attribute]) for i in items]


def linear_probe(train_x: np.ndarray, train_y: list[str], test_x: np.ndarray,
                 test_y: list[str], steps: int = 300) -> tuple[float, float]:
    """(held-out accuracy, majority-class accuracy) of a softmax regression."""
    classes = sorted(set(train_y))
    index = {c: i for i, c in enumerate(classes)}
    x = torch.from_numpy(train_x).float()
    y = torch.tensor([index[c] for c in train_y])
    layer = torch.nn.Linear(x.shape[1], len(classes))
    optimizer = torch.optim.Adam(layer.parameters(), lr=0.05, weight_decay=1e-4)
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(layer(x), y).backward()
        optimizer.step()
    with torch.no_grad():
        predicted = layer(torch.from_numpy(test_x).float()).argmax(1).tolist()
    accuracy = float(np.mean([classes[p] == t for p, t in zip(predicted, test_y, strict=True)]))
    majority = max(set(train_y), key=train_y.count)
    return accuracy, float(np.mean([t == majority for t in test_y]))


def probes(conditioner: MulanConditioner, train: FeatureCache, held_out: FeatureCache
           ) -> dict[str, dict[str, float]]:
    """Linear-probe accuracy of tempo band, key, genre and instrument presence."""
    train_items, test_items = _mix_items(train), _mix_items(held_out)
    train_x = np.stack([conditioner.embed_mel(train.item_mel(i)) for i in train_items])
    test_x = np.stack([conditioner.embed_mel(held_out.item_mel(i)) for i in test_items])
    results = {}
    for attribute in ("tempo", "key", "genre", "has_guitar", "has_strings", "has_lead"):
        accuracy, majority = linear_probe(
            train_x, _probe_labels(train, train_items, attribute), test_x,
            _probe_labels(held_out, test_items, attribute),
        )
        results[attribute] = {"accuracy": round(accuracy, 3), "majority": round(majority, 3)}
    return results


def evaluate(config_path: Path, weights: Path | None = None) -> dict:
    """The whole MuLan evaluation of ``weights`` on the held-out caches named by the config."""
    from engine.mulan.api import DEFAULT_DIR
    from engine.mulan.train import MulanTrainConfig, load_or_build_cache
    from engine.training.config import load_config

    config = load_config(MulanTrainConfig, config_path)
    conditioner = MulanConditioner.load(weights or DEFAULT_DIR)
    train = load_or_build_cache(config.data, ("train",))
    held_out = load_or_build_cache(config.data, ("validation", "test"))
    return {"retrieval": retrieval(conditioner, held_out),
            "probes": probes(conditioner, train, held_out)}
