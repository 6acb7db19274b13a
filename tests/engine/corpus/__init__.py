"""Tests of the training corpus factory (engine/corpus)."""
