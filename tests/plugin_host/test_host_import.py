"""The thin-host promise: the host, the bridge and the CLI's parser never load torch, and the
host and bridge never load the engine (start-up time is measured by `stemloom bench bridge`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

HOST_PROBE = """
import json, sys
import bridge, bridge.client, bridge.listener, bridge.messages
import plugin_host, plugin_host.clips, plugin_host.clip_names, plugin_host.placement
import plugin_host.daw, plugin_host.daw.folder, plugin_host.daw.dawproject
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in
                        ("torch", "engine", "torchaudio", "transformers"))))
"""

CLI_PROBE = """
import json, sys
from stemloom.cli import build_parser
build_parser().parse_args(["host", "status"])
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] == "torch")))
"""


def _heavy_modules(probe: str) -> list[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=60, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_host_and_bridge_load_neither_torch_nor_engine() -> None:
    assert _heavy_modules(HOST_PROBE) == []


def test_the_cli_parser_does_not_load_torch() -> None:
    assert _heavy_modules(CLI_PROBE) == []
