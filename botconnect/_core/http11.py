"""HTTP/1.1 client framing for the lean async transport, sans-IO: h11's rules, llhttp's tokenizer.

Requests are written under h11's grammar (RFC 9110/9112 as h11 reads them) and then some: token methods and header
names, field values without control characters or surrounding whitespace, a request target of visible ASCII, at
most one framing (``Content-Length`` *or* ``Transfer-Encoding: chunked``, nothing else), and a body that matches
its declared length. A request that breaks a rule raises ``httpx.LocalProtocolError`` before a byte is sent.

Responses are tokenised by llhttp (``httptools``, the parser of Node.js and uvicorn) and held to h11's rules where
llhttp is laxer (status codes below 100, transfer codings other than ``chunked``, trailing whitespace) or stricter
(obsolete line folding, which a user agent must unfold; bare LF line endings). Framing and keep-alive are decided
here, by h11's rules, with the pool's stricter ones on top. Every malformed response raises
``httpx.RemoteProtocolError``, as httpx's own transport does.

Without httptools (no wheel for the platform) the transport hands every request to httpx's own transport (h11),
so this module is only imported when it is there.
"""

from __future__ import annotations

import re

import httptools
import httpx

__all__ = [
    "CHUNKED",
    "MAX_HEAD_BYTES",
    "UNTIL_CLOSE",
    "BodyFramer",
    "ChunkedDecoder",
    "PreparedRequest",
    "ResponseHead",
    "find_head_end",
    "parse_response_head",
    "prepare_request",
]

#: A response head larger than this is refused (h11's default limit is the same order of magnitude).
MAX_HEAD_BYTES = 64 * 1024
#: ``ResponseHead.length`` for a chunked body, and for a body read until the server closes the connection
CHUNKED = -1
UNTIL_CLOSE = -2

_NO_BODY_STATUSES = frozenset({204, 304})
# h11's ABNF (h11/_abnf.py, RFC 9110 5.1/5.5), except that a value we send may hold no control character at all:
# h11 lets \x01-\x08 and \x7f through, which no server needs from us.
_TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")
_FIELD_VALUE = re.compile(rb"(?:[\x21-\x7e\x80-\xff]+(?:[ \t]+[\x21-\x7e\x80-\xff]+)*)?")
_TARGET = re.compile(rb"[\x21-\x7e]+")
#: header lines already found valid: most repeat on every call (Host, User-Agent, Accept, Content-Type, the token)
_CHECKED: dict[tuple[bytes, bytes], None] = {}
_CHECKED_SIZE = 512
_FRAMING_NAME_LENGTHS = frozenset({len(b"content-length"), len(b"transfer-encoding"), len(b"connection"), len(b"host")})
_DIGITS = re.compile(rb"[0-9]{1,20}")  # h11: at most 20 digits (int() of 4,300 digits raises ValueError)
_BLANK_LINE = re.compile(rb"\n\r?\n")  # h11's end of a head: bare LF line endings are accepted


# -- requests ----------------------------------------------------------------------------------------------------


class PreparedRequest:
    """A request checked and framed: the head to send, and how its body is framed."""

    __slots__ = ("body", "close", "head", "length")

    def __init__(self, head: bytes, body: bytes | None, length: int | None, close: bool) -> None:
        self.head = head
        #: the framed body (chunked framing applied) when the request has a bytes body; None for a stream
        self.body = body
        #: the declared Content-Length of a streamed body; None for chunked (and for a bytes body)
        self.length = length
        #: the request says ``Connection: close``: the connection is not reused after it (RFC 9112 9.6)
        self.close = close

    def framer(self) -> BodyFramer:
        return BodyFramer(self.length)


def _invalid(message: str) -> httpx.LocalProtocolError:
    return httpx.LocalProtocolError(message)


def prepare_request(request: httpx.Request) -> PreparedRequest:
    """Check ``request`` against HTTP/1.1's rules and frame it; raises ``httpx.LocalProtocolError``."""
    method = request.method.encode("ascii", "replace")
    target = request.url.raw_path
    if _TOKEN.fullmatch(method) is None:
        raise _invalid(f"illegal method {method[:40]!r}")
    if _TARGET.fullmatch(target) is None:
        raise _invalid(f"illegal request target {target[:60]!r}")
    raw = request.headers.raw
    content_length: bytes | None = None
    chunked = False
    close = False
    hosts = 0
    checked = _CHECKED
    for pair in raw:
        name, value = pair
        if pair not in checked:
            if _TOKEN.fullmatch(name) is None:
                raise _invalid(f"illegal header name {name[:40]!r}")
            if _FIELD_VALUE.fullmatch(value) is None:
                # a CR or LF would inject headers or a second request; NUL and other controls are refused by
                # servers in ways nobody can predict; whitespace around a value is not part of it
                raise _invalid(f"illegal value for header {name[:40]!r}")
            if len(checked) >= _CHECKED_SIZE:
                checked.clear()
            checked[pair] = None
        if len(name) in _FRAMING_NAME_LENGTHS:  # cheaper than lowering every name
            lowered = name.lower()
            if lowered == b"content-length":
                if _DIGITS.fullmatch(value) is None or (content_length is not None and content_length != value):
                    raise _invalid(f"illegal Content-Length {value[:40]!r}")
                content_length = value
            elif lowered == b"transfer-encoding":
                # a coding we would not apply ourselves ("gzip, chunked") goes out unframed: refused, as h11 does
                if chunked or value.lower() != b"chunked":
                    raise _invalid(f"unsupported Transfer-Encoding {value[:40]!r}: only chunked is sent")
                chunked = True
            elif lowered == b"connection" and b"close" in _tokens(value):
                close = True
            elif lowered == b"host":
                hosts += 1
    if hosts != 1:  # RFC 9112 3.2, as h11 holds it: exactly one
        raise _invalid("a request needs exactly one Host header" if hosts else "a request needs a Host header")
    if chunked and content_length is not None:
        # httpx adds Content-Length to a bytes body whatever the caller's Transfer-Encoding says; a sender must not
        # send both (RFC 9112 6.2): the body goes chunked, as the caller asked, and the length stays home
        raw = [(name, value) for name, value in raw if name.lower() != b"content-length"]
        content_length = None
    head = b"%s %s HTTP/1.1\r\n%s\r\n" % (method, target, b"".join([b"%s: %s\r\n" % pair for pair in raw]))
    declared = int(content_length) if content_length is not None else None
    stream = request.stream
    if isinstance(stream, httpx.ByteStream):
        try:
            body = request.content
        except httpx.RequestNotRead:  # built with stream=ByteStream(...) and never read: the bytes are there
            body = b"".join(stream)
        if chunked:
            return PreparedRequest(head, _chunk(body) + b"0\r\n\r\n" if body else b"0\r\n\r\n", None, close)
        if (declared or 0) != len(body):
            raise _invalid(f"the body is {len(body)} bytes but Content-Length says {declared or 0}")
        return PreparedRequest(head, body, None, close)
    if not chunked and declared is None:
        raise _invalid("a streamed body needs Content-Length or Transfer-Encoding: chunked")
    return PreparedRequest(head, None, None if chunked else declared, close)


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class BodyFramer:
    """Frames a streamed body: chunks it, or holds it to its declared Content-Length (``length``)."""

    __slots__ = ("_remaining",)

    def __init__(self, length: int | None) -> None:
        self._remaining = length

    def frame(self, data: bytes) -> bytes:
        """What to send for ``data``; raises before sending more than was declared (a second request)."""
        if self._remaining is None:
            return _chunk(data) if data else b""
        self._remaining -= len(data)
        if self._remaining < 0:
            raise _invalid("the body is longer than its Content-Length")
        return data

    def end(self) -> bytes:
        """What ends the body; raises when fewer bytes than declared were sent (the server would wait for ever)."""
        if self._remaining is None:
            return b"0\r\n\r\n"
        if self._remaining:
            raise _invalid("the body is shorter than its Content-Length")
        return b""


def _tokens(value: bytes) -> set[bytes]:
    return {token.strip(b" \t") for token in value.lower().split(b",")}


# -- responses ---------------------------------------------------------------------------------------------------


def find_head_end(buffer: bytes | bytearray) -> int:
    """Index just past the blank line ending a head, or -1; refuses a head that grew past the limit."""
    match = _BLANK_LINE.search(buffer)
    if match is not None:
        return match.end()
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
        #: bytes of body to read; CHUNKED (-1): chunked; UNTIL_CLOSE (-2): until the server closes the connection
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


class _HeadCollector:
    """httptools' callbacks for one head."""

    __slots__ = ("headers", "reason")

    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.reason = b""

    def on_status(self, reason: bytes) -> None:
        self.reason = reason

    def on_header(self, name: bytes, value: bytes) -> None:
        # llhttp drops the whitespace before a value but keeps what follows it (h11 drops both)
        self.headers.append((name, value.rstrip(b" \t")))


def parse_response_head(head: bytes, *, method: bytes, request_close: bool = False) -> ResponseHead:
    """Parse a complete head (through its blank line) and decide how its body is framed.

    ``request_close``: the request said ``Connection: close``, so the connection ends with this response.
    """
    if b"\n " in head or b"\n\t" in head:
        head = _unfold(head)
    collector = _HeadCollector()
    parser = httptools.HttpResponseParser(collector)
    # h11 accepts bare LF line endings, and Content-Length beside Transfer-Encoding (chunked wins: RFC 9112 6.3)
    parser.set_dangerous_leniencies(lenient_optional_cr_before_lf=True, lenient_chunked_length=True)
    try:
        parser.feed_data(head)
    except httptools.HttpParserUpgrade:
        raise httpx.RemoteProtocolError(f"unexpected upgrade ({parser.get_status_code()})") from None
    except httptools.HttpParserError as exc:
        raise httpx.RemoteProtocolError(f"malformed response head: {exc}") from None
    status = parser.get_status_code()
    version = parser.get_http_version()
    if status < 100 or version not in ("1.1", "1.0"):
        status_line = head.split(b"\n", 1)[0]
        raise httpx.RemoteProtocolError(f"malformed status line {status_line[:100]!r}")
    headers = collector.headers
    content_length: bytes | None = None
    chunked = False
    close = request_close
    keep_alive_token = False
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"content-length":
            if _DIGITS.fullmatch(value) is None or (content_length is not None and content_length != value):
                raise httpx.RemoteProtocolError(f"malformed Content-Length {value[:40]!r}")
            content_length = value
        elif lowered == b"transfer-encoding":
            # h11 refuses any coding but chunked, and more than one header: "gzip, chunked" would hand the caller
            # compressed bytes as the body; "chunked" then a "gzip" header, the raw chunk framing
            if chunked or value.lower() != b"chunked":
                raise httpx.RemoteProtocolError(f"unsupported Transfer-Encoding {value[:40]!r}")
            chunked = True
        elif lowered == b"connection":
            tokens = _tokens(value)
            close = close or b"close" in tokens
            keep_alive_token = keep_alive_token or b"keep-alive" in tokens
    if version == "1.0" and (chunked or not keep_alive_token):
        close = True  # RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding ends its connection
    if method == b"HEAD" or status < 200 or status in _NO_BODY_STATUSES:
        length = 0
    elif chunked:
        length = CHUNKED
        # a Content-Length beside Transfer-Encoding is ignored, and the connection is not trusted again
        close = close or content_length is not None
    elif content_length is not None:
        length = int(content_length)
    else:
        length = UNTIL_CLOSE
        close = True
    return ResponseHead(status, collector.reason, headers, not close, length)


def _unfold(head: bytes) -> bytes:
    """Obsolete line folding replaced by a space, as a user agent must (RFC 9112 5.2); h11 does the same."""
    lines = head.split(b"\n")  # the last two are the blank line and what follows it (nothing)
    out = [lines[0]]
    for line in lines[1:-2]:
        if line[:1] in (b" ", b"\t"):
            if len(out) == 1:
                raise httpx.RemoteProtocolError("a continuation line at the start of the headers")
            out[-1] = out[-1].rstrip(b"\r") + b" " + line.lstrip(b" \t")
        else:
            out.append(line)
    return b"\n".join(out + lines[-2:])


class _ChunkCollector:
    __slots__ = ("done", "extra", "parts")

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.done = False
        self.extra = False

    def on_message_begin(self) -> None:
        if self.done:
            self.extra = True

    def on_body(self, data: bytes) -> None:
        if data and not self.done:
            self.parts.append(data)

    def on_message_complete(self) -> None:
        self.done = True


#: puts a fresh llhttp parser in the chunked body state
_CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


class ChunkedDecoder:
    """Turns a ``Transfer-Encoding: chunked`` body into its data, fed whatever the socket gave.

    Bytes after the end of the body are not an error (they were in the same read): they make ``extra`` true, and
    the connection must not be reused.
    """

    __slots__ = ("_collector", "_parser")

    def __init__(self) -> None:
        self._collector = _ChunkCollector()
        self._parser = httptools.HttpResponseParser(self._collector)
        # h11 allows whitespace after a chunk size, which some servers send
        self._parser.set_dangerous_leniencies(lenient_spaces_after_chunk_size=True)
        self._parser.feed_data(_CHUNKED_HEAD)

    @property
    def done(self) -> bool:
        return self._collector.done

    @property
    def extra(self) -> bool:
        return self._collector.extra

    def feed(self, data: bytes | bytearray) -> list[bytes]:
        """The body data contained in ``data`` (possibly none)."""
        collector = self._collector
        if collector.done:
            collector.extra = collector.extra or bool(data)
            return []
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if not collector.done:
                raise httpx.RemoteProtocolError(f"malformed chunked body: {exc}") from None
            collector.extra = True  # garbage after a complete body: the body stands, the connection goes
        parts, collector.parts = collector.parts, []
        return parts
