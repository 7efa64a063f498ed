"""HTTP/1.1 client framing, sans-IO: request heads, response heads, body framing and chunked decoding.

What the lean async transport needs and nothing more (RFC 9112): one request at a time on a connection, no
pipelining, no upgrades (those go to httpx's own transport). Every malformed input from the peer becomes
``httpx.RemoteProtocolError`` and every request we cannot write safely becomes ``httpx.LocalProtocolError``, the
errors httpx's own transports raise, so callers (and our error mapping) cannot tell the transports apart.
"""

from __future__ import annotations

import httpx

__all__ = [
    "MAX_HEAD_BYTES",
    "ChunkedDecoder",
    "ResponseHead",
    "chunk",
    "find_head_end",
    "parse_response_head",
    "request_head",
]

#: A response head larger than this is refused (h11's default limit is the same order of magnitude).
MAX_HEAD_BYTES = 64 * 1024
_MAX_CHUNK_LINE = 4096
_NO_BODY_STATUSES = frozenset({204, 304})
_HEX_DIGITS = b"0123456789abcdefABCDEF"


def request_head(request: httpx.Request) -> bytes:
    """``METHOD target HTTP/1.1`` and the request's headers (httpx already set Host and the body framing)."""
    parts = [request.method.encode("ascii"), b" ", request.url.raw_path, b" HTTP/1.1\r\n"]
    for name, value in request.headers.raw:
        # a CR or LF inside a header would let a value inject headers or a second request
        if b"\n" in value or b"\r" in value or b"\n" in name or b"\r" in name or b":" in name or not name:
            raise httpx.LocalProtocolError(f"illegal header {name!r}")
        parts += (name, b": ", value, b"\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


def chunk(data: bytes) -> bytes:
    """One chunk of a ``Transfer-Encoding: chunked`` request body (empty ``data`` is the last chunk)."""
    return b"%x\r\n%s\r\n" % (len(data), data) if data else b"0\r\n\r\n"


def find_head_end(buffer: bytes | bytearray) -> int:
    """Index just past the blank line ending a head, or -1; refuses a head that grew past the limit."""
    end = buffer.find(b"\r\n\r\n")
    if end >= 0:
        return end + 4
    if len(buffer) > MAX_HEAD_BYTES:
        raise httpx.RemoteProtocolError("the response head is too large")
    return -1


class ResponseHead:
    """A parsed status line and headers, and how the body that follows is framed."""

    __slots__ = ("headers", "keep_alive", "length", "reason", "status")

    def __init__(
        self, status: int, reason: bytes, headers: list[tuple[bytes, bytes]], keep_alive: bool, length: int
    ) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.keep_alive = keep_alive
        #: bytes of body to read; -1 (CHUNKED): chunked; -2 (UNTIL_CLOSE): until the server closes the connection
        self.length = length

    @property
    def interim(self) -> bool:
        """A 1xx answer (100 Continue, 103 Early Hints): another head follows."""
        return 100 <= self.status < 200

    def __repr__(self) -> str:
        return (
            f"ResponseHead(status={self.status}, reason={self.reason!r}, keep_alive={self.keep_alive}, "
            f"length={self.length}, headers={self.headers!r})"
        )


CHUNKED = -1
UNTIL_CLOSE = -2


def parse_response_head(head: bytes, *, method: bytes) -> ResponseHead:
    """Parse a complete head (through its blank line) and decide how its body is framed."""
    lines = head[:-4].split(b"\r\n")
    version, _, rest = lines[0].partition(b" ")
    code, _, reason = rest.partition(b" ")
    if version not in (b"HTTP/1.1", b"HTTP/1.0") or len(code) != 3 or not code.isdigit():
        raise httpx.RemoteProtocolError(f"malformed status line {lines[0][:100]!r}")
    status = int(code)
    headers: list[tuple[bytes, bytes]] = []
    content_length: bytes | None = None
    chunked = False
    transfer_encoding = False
    close = version == b"HTTP/1.0"
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or name[-1:] in (b" ", b"\t") or line[:1] in (b" ", b"\t"):
            # obsolete line folding and whitespace before the colon are refused (RFC 9112 5.1, 5.2)
            raise httpx.RemoteProtocolError(f"malformed header line {line[:100]!r}")
        value = value.strip(b" \t")
        headers.append((name, value))
        lowered = name.lower()
        if lowered == b"content-length":
            if content_length is not None and content_length != value:
                raise httpx.RemoteProtocolError("conflicting Content-Length headers")
            content_length = value
        elif lowered == b"transfer-encoding":
            transfer_encoding = True
            chunked = value.lower().rsplit(b",", 1)[-1].strip() == b"chunked"
        elif lowered == b"connection":
            tokens = {token.strip() for token in value.lower().split(b",")}
            if b"close" in tokens:
                close = True
            elif b"keep-alive" in tokens and version == b"HTTP/1.0":
                close = False
    if method == b"HEAD" or status < 200 or status in _NO_BODY_STATUSES:
        length = 0
    elif transfer_encoding:
        # a Content-Length beside Transfer-Encoding is ignored, and the connection is not trusted again
        length = CHUNKED if chunked else UNTIL_CLOSE
        close = close or content_length is not None or not chunked
    elif content_length is not None:
        if not content_length.isdigit():
            raise httpx.RemoteProtocolError(f"malformed Content-Length {content_length[:40]!r}")
        length = int(content_length)
    else:
        length = UNTIL_CLOSE
    if length == UNTIL_CLOSE:
        close = True
    return ResponseHead(status, reason, headers, not close, length)


class ChunkedDecoder:
    """Turns a ``Transfer-Encoding: chunked`` body into its data, fed whatever the socket gave."""

    __slots__ = ("_buffer", "_remaining", "_state", "done")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._remaining = 0  # data bytes left in the current chunk
        self._state = "size"  # size -> data -> data-end -> size ... -> trailers -> done
        self.done = False

    def feed(self, data: bytes | bytearray) -> list[bytes]:
        """The body data contained in ``data`` (possibly none). Bytes past the end of the body are refused."""
        self._buffer += data
        out: list[bytes] = []
        buffer = self._buffer
        while buffer:
            if self.done:
                raise httpx.RemoteProtocolError("data after the end of a chunked body")
            if self._state == "data":
                take = min(self._remaining, len(buffer))
                out.append(bytes(buffer[:take]))
                del buffer[:take]
                self._remaining -= take
                if self._remaining == 0:
                    self._state = "data-end"
                continue
            end = buffer.find(b"\r\n")
            if end < 0:
                if len(buffer) > _MAX_CHUNK_LINE:
                    raise httpx.RemoteProtocolError("chunk header line too long")
                break
            line = bytes(buffer[:end])
            del buffer[: end + 2]
            if self._state == "data-end":
                if line:
                    raise httpx.RemoteProtocolError("missing CRLF after chunk data")
                self._state = "size"
            elif self._state == "size":
                size = line.split(b";", 1)[0].strip(b" \t")
                # int(x, 16) alone would also take "0x10", "+1" and "1_0"
                if not size or len(size) > 16 or size.strip(_HEX_DIGITS):
                    raise httpx.RemoteProtocolError(f"malformed chunk size {size[:20]!r}")
                self._remaining = int(size, 16)
                self._state = "trailers" if self._remaining == 0 else "data"
            elif not line:  # the blank line ending the (ignored) trailers
                self.done = True
        return out
