"""engine serve --device: auto picks a GPU only when one is there and the model can use it;
the CPU path is unchanged; a device that cannot be used is refused before serving."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from bridge.messages import ModelState
from engine.models.random_tiny import RandomTinyGenerator
from engine.server.device import DeviceError, check_device, place, resolve_device
from engine.server.service import ModelSlot


@pytest.mark.parametrize("text", ["auto", "cpu", "cuda", "cuda:0", "cuda:12"])
def test_the_flag_takes_auto_cpu_and_cuda(text: str) -> None:
    assert check_device(text) == text


@pytest.mark.parametrize("text", ["gpu", "cuda:", "cuda:x", "CPU", "mps", "cuda:0 "])
def test_other_devices_are_refused_plainly(text: str) -> None:
    with pytest.raises(DeviceError, match="auto, cpu, cuda or cuda:N"):
        check_device(text)


def test_auto_is_the_first_gpu_when_torch_sees_one_else_the_cpu() -> None:
    expected = "cuda:0" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto") == expected
    assert resolve_device("cpu") == "cpu"


def test_a_cuda_device_that_is_not_here_is_refused() -> None:
    missing = torch.cuda.device_count() if torch.cuda.is_available() else 0
    with pytest.raises(DeviceError, match=f"no CUDA device {missing} here"):
        resolve_device(f"cuda:{missing}")


def test_a_model_without_gpu_support_stays_on_the_cpu_unless_a_gpu_was_demanded() -> None:
    generator = RandomTinyGenerator()
    assert place(generator, "cpu", asked="cpu") == "cpu"
    assert place(generator, "cuda:0", asked="auto") == "cpu"
    with pytest.raises(DeviceError, match="runs on the CPU only"):
        place(generator, "cuda:0", asked="cuda")


def test_the_device_reported_is_where_the_model_runs_not_the_one_found() -> None:
    """auto on a GPU machine resolves to cuda:0; a model that runs on the CPU only must be
    reported on the CPU (and nothing before it is placed)."""
    slot = ModelSlot("random-tiny", device="cuda:0", asked_device="auto")
    assert slot.device == ""  # not known while the model loads
    slot.load()
    assert slot.state is ModelState.READY and slot.device == "cpu"
    refused = ModelSlot("random-tiny", device="cuda:0", asked_device="cuda")
    refused.load()
    assert refused.state is ModelState.ERROR and refused.device == ""


def test_serve_refuses_a_missing_gpu_before_listening(tmp_path) -> None:
    missing = torch.cuda.device_count() if torch.cuda.is_available() else 0
    result = subprocess.run(
        [sys.executable, "-m", "stemloom", "engine", "serve", "--device", f"cuda:{missing}",
         "--library", str(tmp_path / "library"), "--port", "0"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert f"no CUDA device {missing} here" in result.stderr
    assert "listening" not in result.stdout
