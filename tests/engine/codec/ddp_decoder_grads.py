"""Run under torchrun by test_decoder_finetune: one decoder-only loss step per process on
that process's own clips, then print whether the decoder's gradients agree across processes
(DDP averages them only when the forward goes through the wrapped module)."""

from __future__ import annotations

import sys

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from engine.codec.train import CodecTask, CodecTrainConfig
from engine.training.config import load_config
from engine.training.distributed import setup

env = setup()
task = CodecTask(load_config(CodecTrainConfig, sys.argv[1]), env)
torch.manual_seed(0)  # the same starting weights on every process
model = task.build_model()
wrapped = DistributedDataParallel(model, broadcast_buffers=False)
batch = next(task.batches(0))  # each rank draws its own clips
loss, _ = task.loss(wrapped, batch, 0)
loss.backward()
grad = model.decoder.head.weight.grad
gathered = [torch.zeros_like(grad) for _ in range(env.world_size)]
dist.all_gather(gathered, grad)
if env.rank == 0:
    print("synced" if all(torch.equal(g, gathered[0]) for g in gathered) else "not synced")
dist.destroy_process_group()
