"""A fast keep-alive HTTP/1.1 loopback server for the benchmarks, run in its own process.

It shares no GIL with the client being measured (on 2 cores: one for it, one for the client) and does as little
as possible per request: a raw ``asyncio.Protocol`` (uvloop when installed), pipelining-safe parsing, responses
built from precomputed bytes. Routes (anything else is a 404 with a JSON error body):

* ``POST .../v3/conversations/<id>/activities[/<id>]`` -> 200 ``{"id": ...}`` (send / reply)
* ``GET  .../v3/conversations/members-<N>/pagedmembers?pageSize=&continuationToken=`` -> ``N`` Teams-like members,
  paged; the continuation token is the next index
* ``POST /chat/threads/<id>/messages?api-version=`` -> 201 ``{"id": ...}`` (ACS send_message)
* ``GET  /chat/threads/<...msgs-N...>/messages?maxPageSize=&api-version=`` -> ``N`` ACS chat messages, paged
  with an absolute ``nextLink`` (``syncState`` is the next index), as the service does

Run alone: ``python bench/_server.py [--port P] [--cpu C]`` prints ``PORT <n>`` and serves until its stdin closes
(so it never outlives the benchmark that started it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qsl, urlsplit

__all__ = ["serve"]

_REASONS = {200: b"OK", 201: b"Created", 400: b"Bad Request", 404: b"Not Found"}
_CACHE_LIMIT = 4096  # cached page bodies (10,000 members / 100 = 100 pages; 5,000 messages / 200 = 25 pages)


def _response(status: int, body: bytes, extra: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 %d %s\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: %d\r\n%s\r\n"
        % (status, _REASONS[status], len(body), extra)
        + body
    )


_SEND_OK = _response(200, b'{"id":"1700000000123"}')
_CHAT_SENT = _response(201, b'{"id":"1700000000456"}')
_NOT_FOUND = _response(404, b'{"error":{"code":"NotFound","message":"no such route in the bench server"}}')
_BAD_REQUEST = _response(400, b'{"error":{"code":"BadRequest","message":"malformed request"}}')

_MEMBER = (
    '{"id":"29:1member-%07d-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","name":"Member %d",'
    '"aadObjectId":"00000000-0000-0000-0000-%012d","givenName":"Member","surname":"%d",'
    '"email":"member%d@contoso.example","userPrincipalName":"member%d@contoso.example",'
    '"tenantId":"11111111-2222-3333-4444-555555555555","userRole":"user"}'
)

_MESSAGE = (
    '{"id":"%d","type":"text","sequenceId":"%d","version":"%d",'
    '"content":{"message":"Message number %d: the quick brown fox jumps over the lazy dog."},'
    '"senderDisplayName":"Ada Lovelace","createdOn":"2024-05-01T12:%02d:%02dZ",'
    '"senderCommunicationIdentifier":{"rawId":"8:acs:11111111-2222-3333-4444-555555555555_0000001a-%08d",'
    '"communicationUser":{"id":"8:acs:11111111-2222-3333-4444-555555555555_0000001a-%08d"}}}'
)


def _members_page(total: int, start: int, size: int) -> bytes:
    end = min(total, start + size)
    members = ",".join(_MEMBER % (i, i, i, i, i, i) for i in range(start, end))
    token = f'"continuationToken":"{end}",' if end < total else ""
    return f'{{{token}"members":[{members}]}}'.encode()


def _messages_page(origin: str, path: str, total: int, start: int, size: int, api_version: str) -> bytes:
    end = min(total, start + size)
    values = ",".join(
        _MESSAGE % (1700000000000 + i, i, 1700000000000 + i, i, (i // 60) % 60, i % 60, i, i) for i in range(start, end)
    )
    link = ""
    if end < total:
        link = f',"nextLink":"{origin}{path}?syncState={end}&maxPageSize={size}&api-version={api_version}"'
    return f'{{"value":[{values}]{link}}}'.encode()


def _total(segment: str, prefix: str) -> int | None:
    at = segment.find(prefix)
    if at < 0:
        return None
    digits = ""
    for ch in segment[at + len(prefix) :]:
        if not ch.isdigit():
            break
        digits += ch
    return int(digits) if digits else None


class _Router:
    def __init__(self) -> None:
        self.origin = ""
        self._cache: dict[bytes, bytes] = {}

    def route(self, method: bytes, target: bytes) -> bytes:
        if method == b"POST":
            if b"/activities" in target:
                return _SEND_OK
            if target.startswith(b"/chat/threads/") and b"/messages" in target:
                return _CHAT_SENT
            return _NOT_FOUND
        if method != b"GET":
            return _NOT_FOUND
        cached = self._cache.get(target)
        if cached is not None:
            return cached
        try:
            response = self._page(target.decode("ascii"))
        except ValueError:
            return _BAD_REQUEST
        if response is None:
            return _NOT_FOUND
        if len(self._cache) < _CACHE_LIMIT:
            self._cache[target] = response
        return response

    def _page(self, target: str) -> bytes | None:
        parts = urlsplit(target)
        query = dict(parse_qsl(parts.query))
        if parts.path.endswith("/pagedmembers"):
            total = _total(parts.path, "members-")
            if total is None:
                return None
            start = int(query.get("continuationToken") or 0)
            size = int(query.get("pageSize") or 200)
            return _response(200, _members_page(total, start, size))
        if parts.path.startswith("/chat/threads/") and parts.path.endswith("/messages"):
            total = _total(parts.path, "msgs-")
            if total is None:
                return None
            start = int(query.get("syncState") or 0)
            size = int(query.get("maxPageSize") or 20)
            api_version = query.get("api-version") or "2024-03-07"
            return _response(200, _messages_page(self.origin, parts.path, total, start, size, api_version))
        return None


class _Http(asyncio.Protocol):
    """HTTP/1.1 keep-alive; requests may arrive split or pipelined; bodies by Content-Length or chunked."""

    def __init__(self, router: _Router) -> None:
        self._router = router
        self._buffer = b""
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # uvloop's transports are not asyncio.Transport subclasses

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        out: list[bytes] = []
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buffer[:end]
            lowered = head.lower()
            start = end + 4
            at = lowered.find(b"\r\ncontent-length:")
            if at >= 0:
                stop = lowered.find(b"\r\n", at + 17)
                length = int(lowered[at + 17 : stop if stop >= 0 else len(lowered)])
                if len(buffer) < start + length:
                    break
                rest = buffer[start + length :]
            elif b"\r\ntransfer-encoding: chunked" in lowered:
                consumed = _chunked_length(buffer, start)
                if consumed is None:
                    break
                rest = buffer[start + consumed :]
            else:
                rest = buffer[start:]
            line_end = head.find(b"\r\n")
            request_line = head[:line_end] if line_end >= 0 else head
            pieces = request_line.split(b" ")
            out.append(self._router.route(pieces[0], pieces[1]) if len(pieces) == 3 else _BAD_REQUEST)
            buffer = rest
        self._buffer = buffer
        if out and self._transport is not None:
            self._transport.write(  # type: ignore[attr-defined]
                out[0] if len(out) == 1 else b"".join(out)
            )


def _chunked_length(buffer: bytes, start: int) -> int | None:
    """Bytes a complete chunked body takes from ``start`` (None: not all here yet)."""
    pos = start
    while True:
        line_end = buffer.find(b"\r\n", pos)
        if line_end < 0:
            return None
        size = int(buffer[pos:line_end].split(b";")[0], 16)
        pos = line_end + 2
        if size == 0:
            trailer_end = buffer.find(b"\r\n", pos)
            if trailer_end < 0:
                return None
            # trailers are not used by any client here: the empty line ends the body
            return trailer_end + 2 - start
        pos += size + 2
        if pos > len(buffer):
            return None


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _run_server(port: int, announce: bool) -> None:
    loop = _new_loop()
    asyncio.set_event_loop(loop)
    router = _Router()
    server = loop.run_until_complete(
        loop.create_server(lambda: _Http(router), "127.0.0.1", port, backlog=1024, reuse_address=True)
    )
    bound = server.sockets[0].getsockname()[1]
    router.origin = f"http://127.0.0.1:{bound}"
    if announce:
        sys.stdout.write(f"PORT {bound} LOOP {type(loop).__module__}\n")
        sys.stdout.flush()

    def watch_stdin() -> None:
        # the parent holds our stdin: when it exits (or closes it), so do we
        with contextlib.suppress(OSError, ValueError):
            sys.stdin.buffer.read()
        loop.call_soon_threadsafe(loop.stop)

    threading.Thread(target=watch_stdin, daemon=True).start()
    try:
        loop.run_forever()
    finally:
        server.close()
        loop.close()


@contextmanager
def serve(cpu: int | None = None) -> Iterator[str]:
    """Start the server in a child process (pinned to ``cpu`` if given); yields its base URL."""
    command = [sys.executable, os.path.abspath(__file__), "--port", "0"]
    if cpu is not None:
        command += ["--cpu", str(cpu)]
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"bench server did not start: {line!r}")
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def server_loop_name() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cpu", type=int, default=None, help="pin the server to this CPU")
    args = parser.parse_args()
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    _run_server(args.port, announce=True)


if __name__ == "__main__":
    main()
