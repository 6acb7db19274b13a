"""Stemloom's generation engine: models, training, the job server and the clip library.

All torch lives here. Importing ``engine`` itself stays light; model modules import torch.
"""
