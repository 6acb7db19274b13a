"""The server side of the transports: UDP datagrams and TCP with SLIP framing.

An ``OscListener`` receives packets, decodes and checks them against the schemas, enforces
size limits and the shared token, and hands each good request to a handler together with a
``Replier`` that sends replies back to the client. Nothing a client sends can stop it: every
bad packet is answered with a fail reply (or the TCP connection is closed) and serving goes on.

Sending never blocks the caller (a job's worker above all): a UDP reply the kernel cannot take
at once is dropped, and a TCP reply goes into its connection's bounded outbox, which that
connection's writer thread drains. A TCP client that does not read is closed, not waited for;
so is one whose frame dawdles past a deadline (see ``TcpConnection``).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import select
import socket
import threading
import time
from collections.abc import Callable

from bridge import limits
from bridge.errors import ErrorCode, ProtocolError
from bridge.messages import Fail, Request
from bridge.osc_head import is_bundle, read_head
from bridge.schema import Message, decode, encode, registered
from bridge.slip import BadFrame, FrameTooLarge, SlipDecoder
from bridge.tcp_connection import TcpConnection

log = logging.getLogger(__name__)

DEFAULT_PORT = 7770
# How often blocked receive loops wake to check the stop flag and the connection rules.
_POLL_S = 0.2
# The kernel's send buffer per connection: replies are small, and the bounded outbox, not
# megabytes of kernel memory, holds what a slow reader has not taken yet.
_SEND_BUFFER = 1 << 16
# At most this much of a datagram over the size limit is read, for its id and token.
_HEAD_BYTES = limits.MAX_UDP_DATAGRAM
# How long stop() lets connections flush their last replies (a shutdown's fails).
_DRAIN_S = 2.0


def is_loopback(host: str) -> bool:
    """True when ``host`` names only this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Replier:
    """Sends replies to one client: a UDP address or a TCP connection."""

    def __init__(
        self,
        send_bytes: Callable[[bytes], None],
        peer: str,
        max_size: int,
        *,
        host: str = "",
        on_request: Callable[[], None] | None = None,
    ) -> None:
        self._send_bytes = send_bytes
        self.peer = peer
        # The client's network address alone (no port): what a client cannot pick per request.
        self.host = host
        self._max_size = max_size
        self._on_request = on_request

    def accepted(self) -> None:
        """Note that the client sent a request that was decoded and authorized."""
        if self._on_request is not None:
            self._on_request()

    def send(self, message: Message) -> None:
        """Encode and send; a reply too large for the transport becomes a too_large fail."""
        data = encode(message)
        if len(data) > self._max_size:
            log.error("reply %s of %d bytes is too large", message.ADDRESS, len(data))
            data = encode(
                Fail(
                    request_id=message.request_id,
                    code=ErrorCode.TOO_LARGE,
                    message=f"the {message.ADDRESS} reply would be {len(data)} bytes; "
                    "read the job's metadata file instead",
                )
            )
        try:
            self._send_bytes(data)
        except OSError as exc:  # gone, or not ready to take it: it can ask for status later
            log.info("could not reply to %s: %s", self.peer, exc)


Handler = Callable[[Request, Replier], None]


class OscListener:
    """Listens on UDP (always) and TCP (when ``tcp_port`` is given) and dispatches requests."""

    def __init__(
        self,
        handler: Handler,
        *,
        host: str = "127.0.0.1",
        udp_port: int = DEFAULT_PORT,
        tcp_port: int | None = None,
        token: str = "",
        idle_timeout: float = limits.TCP_IDLE_TIMEOUT_S,
        frame_deadline: float = limits.TCP_FRAME_DEADLINE_S,
        send_stall: float = limits.TCP_SEND_STALL_S,
    ) -> None:
        if not is_loopback(host) and not token:
            raise ValueError(
                f"listening on {host} (not loopback) requires a shared token (--token)"
            )
        self._handler = handler
        self._token = token
        self._idle_timeout = idle_timeout
        self._frame_deadline = frame_deadline
        self._send_stall = send_stall
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._connections: set[TcpConnection] = set()
        self._connections_lock = threading.Lock()

        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._udp.bind((host, udp_port))
        # Non-blocking: a reply the kernel cannot take at once is dropped, never waited for.
        self._udp.setblocking(False)
        self._tcp: socket.socket | None = None
        if tcp_port is not None:
            self._tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._tcp.bind((host, tcp_port))
            self._tcp.listen(limits.MAX_TCP_CONNECTIONS)
            self._tcp.settimeout(0.2)

    @property
    def udp_address(self) -> tuple[str, int]:
        """(host, port) the UDP socket is bound to."""
        host, port = self._udp.getsockname()
        return host, port

    @property
    def tcp_address(self) -> tuple[str, int] | None:
        """(host, port) of the TCP listener, or None without one."""
        if self._tcp is None:
            return None
        host, port = self._tcp.getsockname()
        return host, port

    def start(self) -> None:
        """Start the receive threads."""
        self._spawn(self._serve_udp, "osc-udp")
        if self._tcp is not None:
            self._spawn(self._serve_tcp, "osc-tcp-accept")

    def stop(self) -> None:
        """Stop receiving, let each connection flush the replies already sent to it (for at
        most ``_DRAIN_S`` in all), then close every socket."""
        self._stopping.set()
        deadline = time.monotonic() + _DRAIN_S
        for thread in self._threads:  # each reader flushes its outbox as it ends
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        with self._connections_lock:
            for conn in self._connections:
                conn.close()
        for thread in self._threads:
            thread.join(timeout=0.5)
        self._udp.close()
        if self._tcp is not None:
            self._tcp.close()

    def _spawn(self, target: Callable[..., None], name: str, *args: object) -> None:
        thread = threading.Thread(target=target, name=name, args=args, daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)
        thread.start()

    # ------------------------------------------------------------------------- UDP

    def _serve_udp(self) -> None:
        while not self._stopping.is_set():
            try:
                if not select.select([self._udp], [], [], _POLL_S)[0]:
                    continue
                data, sender = self._udp.recvfrom(65536)
            except BlockingIOError:
                continue
            except (OSError, ValueError):  # ValueError: select on a socket closed by stop()
                if self._stopping.is_set():
                    return
                continue  # e.g. ICMP port unreachable reported on Linux; keep serving

            def send_to(payload: bytes, address: tuple[str, int] = sender) -> None:
                self._udp.sendto(payload, address)

            if len(data) > limits.MAX_UDP_DATAGRAM:
                self._refuse_whole(
                    data,
                    sender,
                    ProtocolError(
                        ErrorCode.TOO_LARGE,
                        f"datagram of {len(data)} bytes; the limit is {limits.MAX_UDP_DATAGRAM}",
                    ),
                    limit=_HEAD_BYTES,
                )
                continue
            self._dispatch(data, sender, udp_sender=sender)

    # ------------------------------------------------------------------------- TCP

    def _serve_tcp(self) -> None:
        assert self._tcp is not None
        while not self._stopping.is_set():
            try:
                sock, peer = self._tcp.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stopping.is_set():
                    return
                continue
            conn = TcpConnection(sock, peer, send_stall=self._send_stall)
            with self._connections_lock:
                admitted = self._make_room(peer[0])
                if admitted:
                    self._connections.add(conn)
            if not admitted:
                log.warning("refusing %s: too many connections", peer)
                conn.close()
                sock.close()
                continue
            self._spawn(self._serve_connection, f"osc-tcp-{peer[1]}", conn)

    def _make_room(self, host: str) -> bool:
        """Whether a newcomer from ``host`` may join, closing connections to make room.

        Over the per-host or the global cap, the oldest open connection (of that host, or of
        any) that has not sent an accepted request is closed; with none such, the newcomer is
        refused. Bytes alone never protect a connection, so a drip cannot lock others out.
        """
        for cap, same_host in (
            (limits.MAX_TCP_CONNECTIONS_PER_HOST, True),
            (limits.MAX_TCP_CONNECTIONS, False),
        ):
            pool = [c for c in self._connections
                    if not c.closed and (not same_host or c.peer[0] == host)]
            if len(pool) < cap:
                continue
            untried = [c for c in pool if not c.proven]
            if not untried:
                return False
            victim = min(untried, key=lambda c: c.opened)
            log.warning("closing %s to admit a newcomer: no request after %.1f s",
                        victim.peer, time.monotonic() - victim.opened)
            victim.close()
            self._connections.discard(victim)
        return True

    def _serve_connection(self, conn: TcpConnection) -> None:
        """Read one connection's frames (its reader thread) until a rule or the client ends it."""
        conn.sock.settimeout(_POLL_S)
        # Replies are small frames: without this, Nagle and delayed ACKs add ~40 ms each.
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SEND_BUFFER)
        replier = Replier(conn.enqueue, f"tcp:{conn.peer}", limits.MAX_TCP_FRAME,
                          host=conn.peer[0], on_request=conn.mark_request)
        writer = threading.Thread(target=conn.write_loop, name=f"osc-tcp-out-{conn.peer[1]}",
                                  daemon=True)
        writer.start()
        decoder = SlipDecoder(limits.MAX_TCP_FRAME)
        try:
            while not self._stopping.is_set() and not conn.closed:
                reason = conn.expired(self._frame_deadline, self._idle_timeout)
                if reason:
                    log.info("closing %s: %s", conn.peer, reason)
                    return
                try:
                    chunk = conn.sock.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    return
                frames = decoder.feed(chunk)
                conn.note_frames(bool(frames), decoder.in_frame)
                for frame in frames:
                    self._dispatch(frame, conn.peer, replier=replier)
        except BadFrame as exc:  # serve the good frames before it, then close
            for frame in exc.frames:
                self._dispatch(frame, conn.peer, replier=replier)
            log.warning("closing %s: %s", conn.peer, exc)
            self._refuse(replier, ProtocolError(ErrorCode.BAD_MESSAGE, f"bad SLIP frame: {exc}"))
        except FrameTooLarge as exc:
            log.warning("closing %s: %s", conn.peer, exc)
            self._refuse(replier, ProtocolError(ErrorCode.TOO_LARGE, str(exc)))
        except OSError:  # reset, or closed by a rule or a newcomer: keep serving the others
            pass
        finally:
            conn.finish(writer)
            with self._connections_lock:
                self._connections.discard(conn)

    # --------------------------------------------------------------------- dispatch

    def _dispatch(
        self,
        data: bytes,
        peer: tuple[str, int],
        *,
        udp_sender: tuple[str, int] | None = None,
        replier: Replier | None = None,
    ) -> None:
        """Authenticate, decode and hand one packet to the handler; answer every failure.

        With a token the token is checked first, from the packet's head: a packet without it
        is answered ``unauthorized`` whatever else is wrong with it.
        """
        if is_bundle(data):
            self._refuse_whole(data, peer, ProtocolError(
                ErrorCode.UNSUPPORTED,
                "OSC bundles are not accepted; send each request as its own message",
            ), replier=replier)
            return
        if self._token and not self._refuse_whole(data, peer, None, replier=replier):
            return
        message: Message | None = None
        try:
            message = decode(data)
        except ProtocolError as exc:
            self._refuse(replier or self._udp_replier(peer, exc.reply_port), exc)
            return
        if udp_sender is not None:
            port = message.reply_port if isinstance(message, Request) else 0
            replier = self._udp_replier(udp_sender, port)
        assert replier is not None
        if not isinstance(message, Request):
            # A reply is never answered: answering it is how a hello whose reply_port is the
            # engine's own, or two engines pointed at each other, would talk forever.
            log.debug("dropped %s from %s: a reply, not a request", message.ADDRESS, peer)
            return
        if self._token and not hmac.compare_digest(message.token.encode(), self._token.encode()):
            self._refuse(
                replier,
                ProtocolError(ErrorCode.UNAUTHORIZED, "missing or wrong token", message.request_id),
            )
            return
        replier.accepted()
        try:
            self._handler(message, replier)
        except ProtocolError as exc:
            self._refuse(replier, exc)
        except Exception:  # a handler bug must never stop the server
            log.exception("handler failed on %s", message.ADDRESS)
            self._refuse(
                replier,
                ProtocolError(
                    ErrorCode.INTERNAL, "internal error; see the engine log", message.request_id
                ),
            )

    def _refuse_whole(
        self,
        data: bytes,
        peer: tuple[str, int],
        error: ProtocolError | None,
        *,
        replier: Replier | None = None,
        limit: int | None = None,
    ) -> bool:
        """Refuse a packet from what its head says (its first ``limit`` bytes): with
        ``unauthorized`` when the engine needs a token and the head lacks it, else with
        ``error`` (echoing the head's request id). A reply is never answered. With no error
        to send, returns whether the packet may go on (its token is right)."""
        head = read_head(data, len(data) if limit is None else limit)
        reply_class = registered().get(head.address)
        if reply_class is not None and not issubclass(reply_class, Request):
            log.debug("dropped %s from %s: a reply, not a request", head.address, peer)
            return False
        if self._token and not hmac.compare_digest(head.token.encode(), self._token.encode()):
            error = ProtocolError(ErrorCode.UNAUTHORIZED, "missing or wrong token")
        if error is None:
            return True
        error.request_id = head.request_id
        self._refuse(replier or self._udp_replier(peer, head.reply_port), error)
        return False

    def _udp_replier(self, sender: tuple[str, int], reply_port: int) -> Replier:
        address = (sender[0], reply_port or sender[1])
        own = self._udp.getsockname()
        to_itself = address[1] == own[1] and (
            address[0] == own[0] or ipaddress.ip_address(address[0]).is_loopback)

        def send_to(payload: bytes) -> None:
            if to_itself:  # a reply_port naming the engine's own port is no reply address
                log.warning("not replying to %s: that is this engine's own port", address)
                return
            self._udp.sendto(payload, address)  # non-blocking: BlockingIOError drops it

        return Replier(send_to, f"udp:{address}", limits.MAX_UDP_DATAGRAM, host=address[0])

    @staticmethod
    def _refuse(replier: Replier, error: ProtocolError) -> None:
        replier.send(
            Fail(
                request_id=_safe_id(error.request_id),
                code=error.code,
                message=error.message[:500],
            )
        )


def _safe_id(request_id: str) -> str:
    """Echo a request id only when it is short; a hostile one must not bloat the reply."""
    return request_id if len(request_id) <= limits.MAX_ID_CHARS else ""
