"""Stemloom's neural audio codec: 32 kHz stereo audio <-> residual-vector-quantized tokens.

Modules: ``config`` (the configuration and the sample and frame rates the whole engine takes
from it), ``spectral`` (STFT framing shared by model and losses), ``model`` (encoder and
decoder), ``quantizer`` (RVQ), ``losses``, ``data`` (training clips from corpus shards),
``train`` (the training task), ``streaming``, ``io`` (weights and token files), ``evaluate``,
``bench`` and ``cli``.
"""
