"""Hostile clients against a real engine: fuzzed traffic over UDP and TCP, then a many-client load.

``run_fuzz`` starts an engine subprocess (the tiny random model, its own temporary library) on
loopback ports and

1. fires ``messages`` fuzzed packets per transport from a seeded generator
   (``HostileMessages``): random bytes, well-formed messages of every registered address
   (replies included) with random arguments, truncated and mutated ones, bundles, oversize
   packets, path-traversal values and, over TCP, bad SLIP escapes and unframed bytes. Nothing
   waits per packet: replies are drained by background threads, and every ``check_every``
   packets a hello must be answered within ``hang_timeout`` s (else a hang is counted) while the
   engine process must still be running (else a crash is counted and the run stops);
2. runs ``clients`` concurrent clients (a quarter over TCP), each sending hellos and submitting
   small jobs (1 bar, one stem), timing each ack, and follows every accepted job to done or
   fail; an id that gets no answer is counted as unanswered;
3. reads the engine's resident memory (``VmRSS``) before and after.

Every loop is bounded by a count or a deadline, and only 127.0.0.1 is ever addressed.
``stemloom bench fuzz`` prints the result; ``tests/engine/test_fuzz_suite.py`` runs it smaller.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
import select
import socket
import struct
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pythonosc.osc_message_builder import OscMessageBuilder

from bridge import limits
from bridge.client import EngineClient, EngineUnreachable
from bridge.errors import ErrorCode, ProtocolError
from bridge.messages import Generate, Hello
from bridge.schema import decode, encode, registered
from bridge.slip import END, ESC, SlipDecoder, encode_frame
from stemloom.local_engine import LocalEngine

HOST = "127.0.0.1"

PATHLIKE = (
    "../../escape", "/etc/passwd", "..", ".", "a/../../b", "~/x", "C:\\x", "%2e%2e%2f", "",
    "../outside.wav", "/etc/shadow", "x\\y", ".hidden", "a/b", "\u2025/\u2025/x", "/dev/zero",
)
_EXTRA_ADDRESSES = (
    "/x", "/stemloom", "/stemloom/", "/stemloom/generate/x", "//", "/", "", "#bundle"
)


def _field_names() -> tuple[str, ...]:
    names: set[str] = set()
    for cls in registered().values():
        names.update(f.name for f in dataclasses.fields(cls))
    names.update(("stems.drums", "stems.", "melody.x", "field", ""))
    return tuple(sorted(names))


class HostileMessages:
    """A seeded source of hostile packets; the same seed gives the same packets."""

    def __init__(self, seed: int, *, engine_port: int = 0) -> None:
        self.rng = random.Random(seed)
        self.addresses = tuple(sorted(registered()))
        self.fields = _field_names()
        self.engine_port = engine_port  # a reply_port naming the engine itself, now and then

    # ------------------------------------------------------------------ pieces

    def text(self, max_size: int = 60) -> str:
        rng = self.rng
        kind = rng.random()
        if kind < 0.3:
            return rng.choice(PATHLIKE)
        if kind < 0.5:
            return "".join(rng.choice("abcXYZ019._-") for _ in range(rng.randint(1, 20)))
        # Any code point but NUL and surrogates (an OSC string cannot hold either).
        chars = []
        for _ in range(rng.randint(0, max_size)):
            cp = rng.choice((rng.randint(1, 0x7F), rng.randint(0x80, 0xD7FF),
                             rng.randint(0xE000, 0x10FFFF)))
            chars.append(chr(cp))
        return "".join(chars)

    def request_id(self) -> str:
        rng = self.rng
        kind = rng.random()
        if kind < 0.6:
            return f"f{rng.getrandbits(40):x}"
        if kind < 0.8:
            return rng.choice(PATHLIKE)
        if kind < 0.9:
            return "i" * rng.choice((limits.MAX_ID_CHARS, limits.MAX_ID_CHARS + 1, 500))
        return self.text()

    def value(self) -> Any:
        rng = self.rng
        kind = rng.randrange(10)
        if kind == 0:
            return rng.randint(-(2**31), 2**31 - 1)
        if kind == 1:
            return rng.choice((0, 1, -1, 2**31 - 1, -(2**31), 65535, 65536, self.engine_port))
        if kind == 2:
            return rng.choice((float("nan"), float("inf"), -0.0, 1e30, -1e-30, 120.0, 19.9))
        if kind == 3:
            return rng.uniform(-1000, 1000)
        if kind == 4:
            return rng.random() < 0.5
        if kind == 5:
            return rng.randbytes(rng.randint(1, 40))
        if kind == 6:
            return rng.choice(("mix", "drums,bass", "mix,mix", "lead,x", "wav16", "4/4", "17/3",
                               "C major", "H minor", "free", "stretch", "1", "-1", "nan"))
        return self.text()

    def message(self, address: str, args: list[Any]) -> bytes:
        builder = OscMessageBuilder(address=address)
        for arg in args:
            if isinstance(arg, float) and not abs(arg) <= 3.4e38 and arg == arg:
                builder.add_arg(arg, "d")  # too big for float32
            else:
                builder.add_arg(arg)
        return builder.build().dgram

    # ------------------------------------------------------------- whole packets

    def shaped(self) -> bytes:
        """A well-formed OSC message: an address (any registered one, replies included),
        an id, then key/value pairs with real field names and hostile values."""
        rng = self.rng
        address = rng.choice(self.addresses) if rng.random() < 0.9 else rng.choice(
            _EXTRA_ADDRESSES[:6])
        args: list[Any] = [] if rng.random() < 0.05 else [self.request_id()]
        for _ in range(rng.randint(0, 8)):
            if rng.random() < 0.85:
                args.append(rng.choice(self.fields))
            else:
                args.append(self.value())
            if rng.random() < 0.95:
                args.append(self.value())
        try:
            return self.message(address, args)
        except Exception:  # a value the builder cannot take: send bytes instead
            return rng.randbytes(rng.randint(1, 200))

    def valid(self) -> bytes:
        """A request the engine may well accept: hellos, statuses, jobs lists, small jobs."""
        rng = self.rng
        request_id = f"v{rng.getrandbits(40):x}"
        kind = rng.random()
        try:
            if kind < 0.7:
                return encode(Hello(request_id=request_id, client=self.text(20)))
            if kind < 0.95:
                address = rng.choice(("/stemloom/status", "/stemloom/cancel", "/stemloom/jobs"))
                return self.message(address, [request_id])
            return encode(Generate(request_id=request_id, prompt="fuzz", bars=1, stems=("mix",)))
        except ProtocolError:
            return self.message("/stemloom/hello", [request_id])

    def bundle(self, depth: int = 0) -> bytes:
        rng = self.rng
        parts = [b"#bundle\x00", rng.randbytes(8)]
        for _ in range(rng.randint(0, 4)):
            element = self.bundle(depth + 1) if depth < 6 and rng.random() < 0.3 else (
                self.shaped() if rng.random() < 0.8 else rng.randbytes(rng.randint(0, 40)))
            size = len(element)
            if rng.random() < 0.1:  # a size that lies
                size = rng.choice((0, size + 4, size - 4, 2**31 - 1, 2**32 - 1)) % 2**32
            parts += [struct.pack(">I", size), element]
        data = b"".join(parts)
        return data[: rng.randint(0, len(data))] if rng.random() < 0.1 else data

    def mutated(self) -> bytes:
        rng = self.rng
        data = bytearray(self.shaped() if rng.random() < 0.8 else self.valid())
        kind = rng.random()
        if kind < 0.35 and data:  # truncated
            return bytes(data[: rng.randrange(len(data))])
        for _ in range(rng.randint(1, 6)):  # flipped, inserted, deleted bytes
            if not data:
                break
            index = rng.randrange(len(data))
            op = rng.randrange(3)
            if op == 0:
                data[index] ^= 1 << rng.randrange(8)
            elif op == 1:
                data.insert(index, rng.randrange(256))
            else:
                del data[index]
        return bytes(data)

    def packet(self) -> bytes:
        """One hostile OSC packet (for UDP as is; TCP wraps it in a SLIP frame)."""
        rng = self.rng
        kind = rng.random()
        if kind < 0.15:
            return rng.randbytes(rng.randint(0, 400))
        if kind < 0.45:
            return self.shaped()
        if kind < 0.55:
            return self.valid()
        if kind < 0.75:
            return self.mutated()
        if kind < 0.88:
            return self.bundle()
        if kind < 0.95:  # path traversal in path-like fields and ids
            fields = ["melody", "reference", "continue_from", "library", "path", "prompt"]
            args: list[Any] = [rng.choice(PATHLIKE)]
            for _ in range(rng.randint(1, 3)):
                args += [rng.choice(fields), rng.choice(PATHLIKE)]
            return self.message(rng.choice(("/stemloom/generate", "/stemloom/status",
                                            "/stemloom/cancel")), args)
        if kind < 0.99:  # just over a limit
            prompt = "p" * rng.choice((limits.MAX_PROMPT_CHARS + 1, limits.MAX_PATH_CHARS + 1))
            return self.message("/stemloom/generate", [f"o{rng.getrandbits(32):x}", "prompt",
                                                       prompt])
        # Over the UDP limit (refused there), under the TCP frame cap (served there).
        size = rng.randint(limits.MAX_UDP_DATAGRAM + 1, 3 * limits.MAX_UDP_DATAGRAM)
        head = self.message("/stemloom/generate", [f"big{rng.getrandbits(32):x}", "prompt"])
        return head + b"x" * (size - len(head))

    def frame(self) -> tuple[bytes, bool]:
        """One chunk of a TCP stream and whether the engine may close the connection on it
        (a bad escape, a frame over the cap, bytes that never end a frame)."""
        rng = self.rng
        kind = rng.random()
        if kind < 0.93:
            data = encode_frame(self.packet())
            if rng.random() < 0.05:  # an empty frame or doubled ENDs around it
                data = bytes([END]) * rng.randint(1, 3) + data
            return data, False
        if kind < 0.97:  # an escape followed by a byte that is no escape
            payload = bytearray(self.shaped())
            payload.insert(rng.randint(0, len(payload)), ESC)
            payload.insert(rng.randint(0, len(payload)), rng.choice((0x00, 0x41, ESC, 0xFF)))
            end_in_escape = rng.random() < 0.3
            return bytes([END]) + bytes(payload) + (bytes([ESC]) if end_in_escape else b"") \
                + bytes([END]), True
        if kind < 0.99:  # bytes that never end their frame
            unended = rng.randbytes(rng.randint(1, 300)).replace(bytes([END]), b"")
            return bytes([END]) + unended, True
        size = limits.MAX_TCP_FRAME + rng.randint(1, 2000)  # a frame over the cap
        return encode_frame(b"/stemloom/hello\x00,s\x00\x00" + b"x" * size), True


# ----------------------------------------------------------------------------- helpers


def rss_mib(pid: int) -> float:
    """Resident memory of a process, from /proc/PID/status (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmRSS for process {pid}")


def _percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return round(ordered[index], 2)


@dataclasses.dataclass
class _Tally:
    sent: dict[str, int] = dataclasses.field(default_factory=dict)
    replies: dict[str, int] = dataclasses.field(default_factory=dict)
    bad_replies: int = 0
    crashes: int = 0
    hangs: int = 0
    checks: int = 0
    tcp_connections: int = 0
    tcp_closed_by_engine: int = 0  # before answering the session's hello
    tcp_unanswered: int = 0  # session hellos neither answered nor closed in time
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def reply(self, transport: str, packet: bytes) -> None:
        try:
            decode(packet)
        except ProtocolError:
            ok = False
        else:
            ok = True
        with self.lock:
            self.replies[transport] = self.replies.get(transport, 0) + 1
            if not ok:
                self.bad_replies += 1


class _Fuzzer:
    def __init__(self, engine: LocalEngine, seed: int, hang_timeout: float) -> None:
        self.engine = engine
        self.gen = HostileMessages(seed, engine_port=engine.udp_port)
        self.hang_timeout = hang_timeout
        self.tally = _Tally()
        self._probe = 0

    @property
    def alive(self) -> bool:
        process = self.engine.process
        return process is not None and process.poll() is None

    def check(self, transport: str) -> bool:
        """Whether the engine runs and answers a hello within the hang timeout."""
        self.tally.checks += 1
        if not self.alive:
            self.tally.crashes = 1
            return False
        port = self.engine.udp_port if transport == "udp" else self.engine.tcp_port
        assert port is not None
        deadline = time.monotonic() + self.hang_timeout
        while time.monotonic() < deadline and self.alive:
            self._probe += 1
            try:
                timeout = max(0.1, min(1.0, deadline - time.monotonic()))
                with EngineClient(port=port, transport=transport, timeout=timeout) as client:
                    if client.hello(f"probe-{self._probe}").request_id == f"probe-{self._probe}":
                        return True
            except (EngineUnreachable, OSError):
                continue
        if not self.alive:
            self.tally.crashes = 1
        else:
            self.tally.hangs += 1
        return False

    def udp(self, messages: int, check_every: int, pace: int) -> None:
        stop = threading.Event()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((HOST, 0))
            sock.settimeout(0.1)

            def drain() -> None:
                while not stop.is_set():
                    try:
                        self.tally.reply("udp", sock.recv(65536))
                    except TimeoutError:
                        continue
                    except OSError:
                        if stop.is_set():
                            return

            drainer = threading.Thread(target=drain, name="fuzz-udp-drain", daemon=True)
            drainer.start()
            target = (HOST, self.engine.udp_port)
            sent = 0
            syncer = EngineClient(port=self.engine.udp_port, timeout=0.25)
            try:
                while sent < messages:
                    for _ in range(min(pace, messages - sent)):
                        # OSError: e.g. ECONNREFUSED from an earlier ICMP error
                        with contextlib.suppress(OSError):
                            sock.sendto(self.gen.packet(), target)
                        sent += 1
                    # A hello behind them in the engine's receive queue paces the sender,
                    # so the fuzz is served, not dropped by a full receive buffer.
                    synced = self._sync_udp(syncer)
                    due = sent % check_every < pace or sent == messages
                    if (not synced or due) and not self.check("udp"):
                        break
            finally:
                self.tally.sent["udp"] = sent
                syncer.close()
                stop.set()
                drainer.join(timeout=2)

    def _sync_udp(self, client: EngineClient) -> bool:
        """Wait until the engine has read what came before: its answer to a hello sent now
        (the engine reads one socket in order). A hello lost to a full receive buffer is sent
        again; False when none is answered within the hang timeout."""
        deadline = time.monotonic() + self.hang_timeout
        while time.monotonic() < deadline:
            self._probe += 1
            with contextlib.suppress(EngineUnreachable):
                client.hello(f"sync-{self._probe}")
                return True
            if not self.alive:
                return False
        return False

    def tcp(self, messages: int, check_every: int, session_max: int) -> None:
        port = self.engine.tcp_port
        assert port is not None
        sent = 0
        next_check = check_every
        try:
            while sent < messages:
                chunks: list[bytes] = []
                closing = False
                for _ in range(min(self.gen.rng.randint(1, session_max), messages - sent)):
                    data, closing = self.gen.frame()
                    chunks.append(data)
                    sent += 1
                    if closing:
                        break
                tail = chunks.pop() if closing else b""
                self._tcp_session(port, b"".join(chunks), tail)
                if sent >= next_check or sent >= messages:
                    next_check += check_every
                    if not self.check("tcp"):
                        break
        finally:
            self.tally.sent["tcp"] = sent

    def _tcp_session(self, port: int, stream: bytes, tail: bytes) -> None:
        """Send ``stream``, a hello, then ``tail`` (bytes on which the engine may close the
        connection) on a fresh connection, draining every reply; wait (bounded) for the
        hello's answer, which shows the engine served the stream before it."""
        self._probe += 1
        probe_id = f"tcp-{self._probe}"
        stream += encode_frame(encode(Hello(request_id=probe_id))) + tail
        answered = threading.Event()
        closed = threading.Event()
        try:
            sock = socket.create_connection((HOST, port), timeout=5)
        except OSError:
            return
        self.tally.tcp_connections += 1
        sock.settimeout(self.hang_timeout)  # for sendall; the drain polls with select

        def drain() -> None:
            decoder = SlipDecoder(limits.MAX_TCP_FRAME)
            deadline = time.monotonic() + self.hang_timeout + 5
            while time.monotonic() < deadline and not answered.is_set():
                try:
                    if not select.select([sock], [], [], 0.2)[0]:
                        continue
                    chunk = sock.recv(65536)
                except (OSError, ValueError):  # reset by the engine, or closed by us
                    closed.set()
                    break
                if not chunk:
                    closed.set()
                    break
                try:
                    frames = decoder.feed(chunk)
                except Exception:  # the engine's own framing is broken
                    with self.tally.lock:
                        self.tally.bad_replies += 1
                    break
                for frame in frames:
                    self.tally.reply("tcp", frame)
                    if probe_id.encode() in frame:
                        answered.set()

        drainer = threading.Thread(target=drain, name="fuzz-tcp-drain", daemon=True)
        drainer.start()
        with contextlib.suppress(OSError):
            sock.sendall(stream)
        drainer.join(timeout=self.hang_timeout + 6)
        if not answered.is_set():
            if closed.is_set():
                self.tally.tcp_closed_by_engine += 1
            else:
                self.tally.tcp_unanswered += 1
        answered.set()  # ends the drain loop either way
        drainer.join(timeout=2)
        sock.close()


# ----------------------------------------------------------------------------- load


def _load(engine: LocalEngine, clients: int, jobs_per_client: int, hellos_per_client: int,
          job_timeout: float, hang_timeout: float) -> dict[str, Any]:
    lock = threading.Lock()
    acks: list[float] = []
    hello_ms: list[float] = []
    outcome = {"accepted": 0, "busy": 0, "refused_other": 0, "done": 0, "failed": 0,
               "cancelled": 0, "unanswered_ids": 0, "client_errors": 0}
    errors: list[str] = []
    start_gate = threading.Barrier(clients, timeout=60)

    def bump(key: str, n: int = 1) -> None:
        with lock:
            outcome[key] += n

    def run(n: int) -> None:
        transport = "tcp" if n % 4 == 0 else "udp"
        port = engine.tcp_port if transport == "tcp" else engine.udp_port
        assert port is not None
        accepted: list[str] = []
        try:
            with EngineClient(port=port, transport=transport, timeout=hang_timeout) as client:
                with contextlib.suppress(threading.BrokenBarrierError):
                    start_gate.wait()
                for i in range(max(jobs_per_client, hellos_per_client)):
                    if i < hellos_per_client:
                        started = time.perf_counter()
                        try:
                            client.hello(f"load-hello-{n}-{i}")
                            with lock:
                                hello_ms.append((time.perf_counter() - started) * 1000)
                        except EngineUnreachable:
                            bump("unanswered_ids")
                    if i < jobs_per_client:
                        job_id = f"load-{n}-{i}"
                        request = Generate(request_id=job_id, prompt="fuzz load", bars=1,
                                           stems=("mix",), seed=n * 100 + i)
                        started = time.perf_counter()
                        try:
                            client.submit(request)
                        except EngineUnreachable:
                            bump("unanswered_ids")
                            continue
                        except ProtocolError as exc:
                            bump("busy" if exc.code == ErrorCode.BUSY else "refused_other")
                            continue
                        with lock:
                            acks.append((time.perf_counter() - started) * 1000)
                        accepted.append(job_id)
                        bump("accepted")
                for job_id in accepted:
                    try:
                        client.wait(job_id, timeout=job_timeout, poll_interval=2.0)
                        bump("done")
                    except ProtocolError as exc:
                        bump("cancelled" if exc.code == ErrorCode.CANCELLED else "failed")
                    except EngineUnreachable:
                        bump("unanswered_ids")
        except Exception as exc:  # reported in the result, not raised
            bump("client_errors")
            with lock:
                errors.append(f"client {n}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=run, args=(n,), name=f"load-{n}") for n in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(1.0, job_timeout + 120 - (time.monotonic() - started)))
    stuck = sum(thread.is_alive() for thread in threads)
    return {
        **outcome,
        "stuck_clients": stuck,
        "ack_p50_ms": _percentile(acks, 0.5),
        "ack_p99_ms": _percentile(acks, 0.99),
        "hello_p50_ms": _percentile(hello_ms, 0.5),
        "hello_p99_ms": _percentile(hello_ms, 0.99),
        "load_s": round(time.monotonic() - started, 1),
        "errors": errors[:5],
    }


# ----------------------------------------------------------------------------- entry


def run_fuzz(
    messages: int,
    clients: int,
    seed: int,
    transports: tuple[str, ...] = ("udp", "tcp"),
    *,
    jobs_per_client: int = 2,
    hellos_per_client: int = 3,
    queue_size: int | None = None,
    check_every: int = 1000,
    hang_timeout: float = 10.0,
    job_timeout: float = 300.0,
    library: Path | None = None,
) -> dict[str, Any]:
    """Fuzz a fresh engine with ``messages`` packets per transport, then load it with
    ``clients`` concurrent clients; return the figures (see the module docstring).

    ``queue_size`` defaults to every load job fitting the queue, so acks are measured on
    accepted jobs rather than on refusals.
    """
    for transport in transports:
        if transport not in ("udp", "tcp"):
            raise ValueError(f"transport must be udp or tcp, not {transport!r}")
    queue = queue_size if queue_size is not None else max(8, clients * jobs_per_client)
    started = time.monotonic()
    with _library(library) as root:
        engine = LocalEngine(root / "library", model="random-tiny", tcp=True, queue_size=queue,
                             log_path=root / "engine.log")
        with engine:
            assert engine.process is not None
            pid = engine.process.pid
            rss_start = rss_mib(pid)
            _warm_up(engine)  # the first job loads what every later one shares
            rss_before = rss_mib(pid)
            fuzzer = _Fuzzer(engine, seed, hang_timeout)
            phase_s: dict[str, float] = {}
            for transport in transports:
                if fuzzer.tally.crashes:
                    break
                phase_start = time.monotonic()
                if transport == "udp":
                    fuzzer.udp(messages, check_every, pace=100)
                else:
                    fuzzer.tcp(messages, check_every, session_max=200)
                phase_s[transport] = round(time.monotonic() - phase_start, 1)
            rss_after_fuzz = rss_mib(pid) if fuzzer.alive else None
            load: dict[str, Any] = {}
            if fuzzer.alive and clients > 0:
                load = _load(engine, clients, jobs_per_client, hellos_per_client, job_timeout,
                             hang_timeout)
            alive = fuzzer.alive
            rss_after = rss_mib(pid) if alive else None
            crashes = 0 if alive else 1
        log_tail = (root / "engine.log").read_text(errors="replace")[-2000:] if crashes else ""
        files_outside = _outside(root)
    tally = fuzzer.tally
    return {
        "seed": seed,
        "messages_per_transport": messages,
        "sent": tally.sent,
        "replies": tally.replies,
        "bad_replies": tally.bad_replies,
        "fuzz_s": phase_s,
        "liveness_checks": tally.checks,
        "crashes": max(crashes, tally.crashes),
        "hangs": tally.hangs,
        "tcp_connections": tally.tcp_connections,
        "tcp_closed_by_engine": tally.tcp_closed_by_engine,
        "tcp_unanswered": tally.tcp_unanswered,
        "clients": clients,
        **load,
        "files_outside_library": files_outside,
        "rss_start_mib": rss_start,
        "rss_before_mib": rss_before,
        "rss_after_fuzz_mib": rss_after_fuzz,
        "rss_after_mib": rss_after,
        "rss_growth_mib": None if rss_after is None else round(rss_after - rss_before, 1),
        "wall_s": round(time.monotonic() - started, 1),
        **({"engine_log_tail": log_tail} if log_tail else {}),
    }


def _warm_up(engine: LocalEngine) -> None:
    with EngineClient(port=engine.udp_port, timeout=10) as client:
        client.submit(Generate(request_id="warm-up", prompt="warm up", bars=1, stems=("mix",)))
        client.wait("warm-up", timeout=120)


class _library:
    """The given folder, or a temporary one removed afterwards."""

    def __init__(self, root: Path | None) -> None:
        self._root = root
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> Path:
        if self._root is not None:
            self._root.mkdir(parents=True, exist_ok=True)
            return self._root
        self._tmp = tempfile.TemporaryDirectory(prefix="stemloom-fuzz-")
        return Path(self._tmp.name)

    def __exit__(self, *exc: object) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()


def _outside(root: Path) -> list[str]:
    """Files the engine wrote in its run folder outside its library (the log excepted)."""
    return sorted(
        str(p.relative_to(root)) for p in _files(root)
        if not p.is_relative_to(root / "library") and p.name != "engine.log"
    )[:10]


def _files(root: Path) -> Iterator[Path]:
    return (p for p in root.rglob("*") if p.is_file())


def summary_ok(result: dict[str, Any]) -> bool:
    """True when nothing went wrong: no crash, hang, unanswered id, lost job or bad reply."""
    accepted = result.get("accepted", 0)
    unanswered = result.get("unanswered_ids", 0) + result["tcp_unanswered"]
    finished = result.get("done", 0) + result.get("failed", 0) + result.get("cancelled", 0)
    return (
        result["crashes"] == 0
        and result["hangs"] == 0
        and unanswered == 0
        and result.get("client_errors", 0) == 0
        and result.get("stuck_clients", 0) == 0
        and result["bad_replies"] == 0
        and finished == accepted
        and not result["files_outside_library"]
    )


__all__ = ["HostileMessages", "rss_mib", "run_fuzz", "summary_ok"]
