"""A raw TCP server on 127.0.0.1 for the transport tests: each test decides the exact bytes it answers with.

The server accepts in a thread and hands each connection (a :class:`Peer`) to the test's ``handler`` in a thread of
its own, so a handler reads and writes plain blocking sockets. Leaving ``with RawServer(...)`` shuts every socket
down, joins every thread, and re-raises the first exception a handler raised (an assertion in a handler fails the
test). Every socket has a timeout, so a test that goes wrong fails instead of hanging.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable
from types import TracebackType

import anyio.to_thread
import attrs

__all__ = ["Peer", "RawServer", "Received", "echo_target", "keep_alive", "response", "wait_for"]

SOCKET_TIMEOUT = 10.0


@attrs.frozen
class Received:
    """One request as the server read it off the socket."""

    raw: bytes  # every byte of the request, head and body as sent
    method: bytes
    target: bytes
    version: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes  # the body with any chunked framing removed

    def header(self, name: bytes) -> bytes | None:
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        assert len(values) <= 1, f"{name!r} sent {len(values)} times"
        return values[0] if values else None


class PeerClosed(Exception):
    """The client closed (or reset) the connection in the middle of a request."""


class Peer:
    """The server's side of one accepted connection."""

    def __init__(self, server: RawServer, sock: socket.socket, index: int) -> None:
        self.server = server
        self.sock = sock
        self.index = index  # 0 for the first connection the server accepted
        self.requests: list[Received] = []
        self.eof = threading.Event()  # set once the client closed (or reset) the connection
        self._buffer = bytearray()

    # -- reading ---------------------------------------------------------------------------------------------------

    def _fill(self) -> bool:
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof.set()
            return False
        self._buffer += data
        return True

    def _take_line(self) -> bytes:
        while (end := self._buffer.find(b"\r\n")) < 0:
            if not self._fill():
                raise PeerClosed
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 2]
        return line

    def _take(self, size: int) -> bytes:
        while len(self._buffer) < size:
            if not self._fill():
                raise PeerClosed
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def read_request(self) -> Received | None:
        """The next request, or None when the client closed the connection before sending another."""
        if not self._buffer and not self._fill():
            return None
        while (end := self._buffer.find(b"\r\n\r\n")) < 0:
            if not self._fill():
                raise PeerClosed
        head = bytes(self._buffer[: end + 4])
        del self._buffer[: end + 4]
        lines = head[:-4].split(b"\r\n")
        method, target, version = lines[0].split(b" ")
        headers = [(name, value.strip()) for name, _, value in (line.partition(b":") for line in lines[1:])]
        raw = bytearray(head)
        body = bytearray()
        lowered = {name.lower(): value for name, value in headers}
        if lowered.get(b"transfer-encoding", b"").lower() == b"chunked":
            while True:
                size_line = self._take_line()
                raw += size_line + b"\r\n"
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    while True:  # trailers, up to the blank line
                        trailer = self._take_line()
                        raw += trailer + b"\r\n"
                        if not trailer:
                            break
                    break
                data = self._take(size + 2)
                assert data.endswith(b"\r\n"), data[-10:]
                raw += data
                body += data[:-2]
        elif b"content-length" in lowered:
            data = self._take(int(lowered[b"content-length"]))
            raw += data
            body += data
        received = Received(bytes(raw), method, target, version, headers, bytes(body))
        self.requests.append(received)
        self.server._record(received)
        return received

    def wait_eof(self) -> bytes:
        """Read until the client closes the connection; what arrived meanwhile (should be nothing)."""
        extra = bytes(self._buffer)
        self._buffer.clear()
        while self._fill():
            extra += bytes(self._buffer)
            self._buffer.clear()
        return extra

    # -- writing ---------------------------------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_slowly(self, data: bytes, piece: int = 1) -> None:
        """``data`` in separate small writes (with Nagle off and a pause between, so they arrive apart)."""
        for start in range(0, len(data), piece):
            self.sock.sendall(data[start : start + piece])
            time.sleep(0.001)

    def close(self) -> None:
        self.sock.close()

    def reset(self) -> None:
        """Close with an RST instead of a FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def serve(self, answer: Callable[[Received], bytes]) -> None:
        """Answer requests on this connection until the client closes it."""
        while (request := self.read_request()) is not None:
            self.send(answer(request))


Handler = Callable[[Peer], None]


class RawServer:
    """``handler(peer)`` runs in its own thread for every accepted connection."""

    def __init__(self, handler: Handler, *, backlog: int = 64) -> None:
        self._handler = handler
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=backlog)
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.peers: list[Peer] = []
        self.requests: list[Received] = []
        self.open_now = 0
        self.max_open = 0
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept_loop, name="rawhttp-accept", daemon=True)

    @property
    def accepted(self) -> int:
        with self._lock:
            return len(self.peers)

    def _record(self, request: Received) -> None:
        with self._lock:
            self.requests.append(request)

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(SOCKET_TIMEOUT)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                peer = Peer(self, sock, len(self.peers))
                self.peers.append(peer)
                self.open_now += 1
                self.max_open = max(self.max_open, self.open_now)
                thread = threading.Thread(target=self._run, args=(peer,), name=f"rawhttp-{peer.index}", daemon=True)
                self._threads.append(thread)
            thread.start()

    def _run(self, peer: Peer) -> None:
        try:
            self._handler(peer)
        except BaseException as exc:  # reported when the server stops
            if not self._stopping.is_set():
                self.errors.append(exc)
        finally:
            with self._lock:
                self.open_now -= 1
            peer.sock.close()

    def __enter__(self) -> RawServer:
        self._acceptor.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._stopping.set()
        self._acceptor.join(SOCKET_TIMEOUT)
        self._listener.close()
        with self._lock:
            peers = list(self.peers)
            threads = list(self._threads)
        for peer in peers:
            with contextlib.suppress(OSError):  # already closed by its handler
                peer.sock.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(SOCKET_TIMEOUT)
        assert not self._acceptor.is_alive()
        assert not any(thread.is_alive() for thread in threads), "a handler thread did not stop"
        if self.errors and exc is None:
            raise self.errors[0]


def response(status: int = 200, body: bytes = b"", *headers: str, reason: str = "OK") -> bytes:
    """An HTTP/1.1 response with a Content-Length (unless ``headers`` frame the body another way)."""
    lines = [f"HTTP/1.1 {status} {reason}", *headers]
    if not any(h.lower().startswith(("content-length:", "transfer-encoding:")) for h in headers):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def echo_target(request: Received) -> bytes:
    """A 200 with the request's target as its body (a HEAD gets only the head)."""
    if request.method == b"HEAD":
        return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(request.target)
    return response(200, request.target)


def keep_alive(peer: Peer) -> None:
    """A handler: answers every request on the connection with its own target as the body."""
    peer.serve(echo_target)


async def wait_for(event: threading.Event, timeout: float = SOCKET_TIMEOUT) -> None:
    """Wait (without blocking the event loop) for a server thread to set ``event``."""
    assert await anyio.to_thread.run_sync(event.wait, timeout), "the server never got there"
