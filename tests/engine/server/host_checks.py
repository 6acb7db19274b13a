"""Clients the namespace tests run on one machine or the other (``python -m`` this module
with a check's name and the engine's address); each prints one JSON line of findings."""

from __future__ import annotations

import hashlib
import io
import json
import socket
import sys
import time
from pathlib import Path

from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from bridge import limits
from bridge.client import EngineClient
from bridge.errors import ProtocolError
from bridge.messages import Generate, Upload
from bridge.transfer import upload_file


def uploads_are_bounded_and_private(host: str, port: int, token: str, folder: Path) -> dict:
    """An upload over the limit is refused before a byte is sent; another client cannot
    name this client's upload."""
    findings: dict = {}
    first, second = (EngineClient(host, port, transport="tcp", token=token, timeout=10,
                                  client_id=f"namespace-client-{n}-0123456789") for n in (1, 2))
    with first, second:
        files = first.hello_files()
        assert files is not None
        findings["max_file_bytes"] = files.max_file_bytes
        empty = hashlib.sha256(b"").hexdigest()
        try:
            first.send(Upload(request_id="huge", name="huge.wav",
                              size=limits.MAX_INPUT_BYTES + 1, sha256=empty, checksum=empty))
            findings["over_limit"] = reply_of(first, "huge")
        except ProtocolError as exc:
            findings["over_limit"] = exc.code.value
        tune = folder / "tune.mid"
        tune.write_bytes(_one_note_midi())
        path = upload_file(first, tune, files)
        findings["uploaded"] = path
        for client, name in ((second, "other"), (first, "own")):
            try:
                client.submit(Generate(request_id=f"uses-{name}", prompt="piano", bars=1,
                                       stems=("keys",), melody=path))
                findings[name] = "accepted"
            except ProtocolError as exc:
                findings[name] = exc.code.value
    return findings


def v1_client_unchanged(host: str, port: int, token: str, folder: Path) -> dict:
    """A protocol v1 client on the engine's machine, written with python-osc alone: its hello
    is answered with protocol 1 and nothing more, and a job with a path input ends in a done
    naming files on this machine."""
    tune = folder / "tune.mid"
    tune.write_bytes(_one_note_midi())
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(1.0)

    def send(address: str, *args: object) -> None:
        builder = OscMessageBuilder(address=address)
        for arg in args:
            builder.add_arg(arg)
        sock.sendto(builder.build().dgram, (host, port))

    def replies(until: str, seconds: float) -> list[tuple[str, list]]:
        got: list[tuple[str, list]] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                message = OscMessage(sock.recv(65536))
            except TimeoutError:
                continue
            got.append((message.address, list(message.params)))
            if message.address in until.split():
                break
        return got

    send("/stemloom/hello", "h1", "token", token)
    hello = replies("/stemloom/hello/reply", 10)
    extra = replies("-", 1.0)  # a v2 engine must add nothing for a v1 hello
    send("/stemloom/generate", "v1-job", "token", token, "prompt", "organ chords", "bars", 1,
         "stems", "keys", "melody", str(tune), "seed", 5)
    job = replies("/stemloom/done /stemloom/fail", 120)
    params = dict(zip(hello[-1][1][1::2], hello[-1][1][2::2], strict=False)) if hello else {}
    done = [p for a, p in job if a == "/stemloom/done"]
    paths = [v for k, v in zip(done[0][1::2], done[0][2::2], strict=False)
             if k.startswith("stems.")] if done else []
    return {"protocol": params.get("protocol"), "extra": [a for a, _ in extra],
            "outcome": job[-1][0] if job else None, "stems_here": [Path(p).is_file()
                                                                    for p in paths]}


def reply_of(client: EngineClient, request_id: str) -> str:
    """The address of the next reply to ``request_id``, or a fail's code."""
    reply = client.next_reply(request_id)
    return getattr(reply, "code", reply.ADDRESS)


def _one_note_midi() -> bytes:
    import mido

    track = mido.MidiTrack([mido.Message("note_on", note=60, velocity=90, time=0),
                            mido.Message("note_off", note=60, velocity=0, time=960)])
    buffer = io.BytesIO()
    mido.MidiFile(ticks_per_beat=480, tracks=[track]).save(file=buffer)
    return buffer.getvalue()


CHECKS = {"uploads": uploads_are_bounded_and_private, "v1": v1_client_unchanged}

if __name__ == "__main__":
    check, host, port, token, folder = sys.argv[1:6]
    print(json.dumps(CHECKS[check](host, int(port), token, Path(folder))))
