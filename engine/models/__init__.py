"""Neural networks of the engine (import torch)."""
