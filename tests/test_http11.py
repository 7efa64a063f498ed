"""The sans-IO HTTP/1.1 framing of the lean async transport: requests checked and framed under h11's rules,
response heads (llhttp's tokenizer, h11's rules), chunked bodies. The same cases against real sockets, next to h11
itself, are in ``test_transport_hostile.py``."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botconnect._core.http11 import (
    CHUNKED,
    MAX_HEAD_BYTES,
    UNTIL_CLOSE,
    BodyFramer,
    ChunkedDecoder,
    ResponseHead,
    find_head_end,
    parse_response_head,
    prepare_request,
)


def parse(*lines: str, method: bytes = b"GET", request_close: bool = False) -> ResponseHead:
    """Parse a head given as lines (the CRLFs and the blank line are added)."""
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return parse_response_head(raw, method=method, request_close=request_close)


def chunk(data: bytes) -> bytes:
    return BodyFramer(None).frame(data) if data else BodyFramer(None).end()


# -- requests --------------------------------------------------------------------------------------------------------


def test_request_head_is_method_target_and_headers_in_order() -> None:
    request = httpx.Request(
        "POST", "http://127.0.0.1:8080/v3/a%20b?x=1&y=%C3%A9", content=b"hello", headers={"X-Test": "v"}
    )
    prepared = prepare_request(request)
    assert prepared.head == (
        b"POST /v3/a%20b?x=1&y=%C3%A9 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-Test: v\r\nContent-Length: 5\r\n\r\n"
    )
    assert (prepared.body, prepared.close) == (b"hello", False)


def test_request_head_of_a_bare_get() -> None:
    prepared = prepare_request(httpx.Request("GET", "http://example.test/"))
    assert prepared.head == b"GET / HTTP/1.1\r\nHost: example.test\r\n\r\n"
    assert prepared.body == b""


@pytest.mark.parametrize(
    "headers",
    [
        [(b"X-A", b"v\r\nInjected: 1")],
        [(b"X-A", b"v\nInjected: 1")],
        [(b"X-A", b"v\r")],
        [(b"X-A\r\nInjected", b"1")],
        [(b"X-A\n", b"1")],
        [(b"X-A: b", b"1")],
        [(b"", b"1")],
        # D5: NUL, other control characters, names that are not tokens, values with surrounding whitespace
        [(b"Authorization", b"Bearer tok\x00")],
        [(b"X-A", b"a\x01b")],
        [(b"X-A", b"a\x7fb")],
        [(b"X-A", b" padded")],
        [(b"X-A", b"padded\t")],
        [(b"X A", b"1")],
        [(b"X(A)", b"1")],
        [(b"X-\xe9", b"1")],
    ],
)
def test_request_with_an_illegal_header_is_refused(headers: list[tuple[bytes, bytes]]) -> None:
    request = httpx.Request("GET", "http://example.test/", headers=headers)
    with pytest.raises(httpx.LocalProtocolError, match="header"):
        prepare_request(request)


def test_request_needs_exactly_one_host() -> None:
    """As h11 holds it (RFC 9112 3.2)."""
    without = httpx.Request("GET", "http://example.test/", stream=httpx.ByteStream(b""))  # stream=: no Host added
    with pytest.raises(httpx.LocalProtocolError, match="Host"):
        prepare_request(without)
    twice = httpx.Request("GET", "http://example.test/", headers=[(b"Host", b"a.test"), (b"host", b"b.test")])
    with pytest.raises(httpx.LocalProtocolError, match="Host"):
        prepare_request(twice)


def test_request_header_values_may_hold_inner_spaces_tabs_and_obs_text() -> None:
    request = httpx.Request("GET", "http://example.test/", headers=[(b"X-A", b"a b\tc \xe9")])
    assert b"X-A: a b\tc \xe9\r\n" in prepare_request(request).head


@pytest.mark.parametrize("method", ["GET\r\nX-Injected: 1\r\n\r\nGET", "GET /evil", "G(T", "", "GÉT"])
def test_request_method_must_be_a_token(method: str) -> None:
    """D4: CRLF (or a space) in the method would make two requests."""
    with pytest.raises(httpx.LocalProtocolError, match="method"):
        prepare_request(httpx.Request(method, "http://example.test/"))


def test_explicit_chunked_bytes_body_is_framed_chunked() -> None:
    """D1: httpx adds Content-Length to a bytes body with an explicit Transfer-Encoding: chunked."""
    request = httpx.Request("POST", "http://example.test/", content=b"abc", headers={"Transfer-Encoding": "chunked"})
    assert "content-length" in request.headers
    prepared = prepare_request(request)
    assert prepared.head == b"POST / HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert prepared.body == b"3\r\nabc\r\n0\r\n\r\n"
    empty = httpx.Request("POST", "http://example.test/", content=b"", headers={"Transfer-Encoding": "chunked"})
    assert prepare_request(empty).body == b"0\r\n\r\n"


@pytest.mark.parametrize("length", ["2", "4", "0"])
def test_bytes_body_must_match_its_content_length(length: str) -> None:
    """D2: extra bytes would be read as a second request; too few leave the server waiting."""
    request = httpx.Request("POST", "http://example.test/", content=b"abc", headers={"Content-Length": length})
    with pytest.raises(httpx.LocalProtocolError, match="Content-Length"):
        prepare_request(request)


@pytest.mark.parametrize("coding", ["gzip, chunked", "gzip", "identity", "chunked, chunked"])
def test_only_chunked_transfer_coding_is_sent(coding: str) -> None:
    """D3: a coding the transport does not apply would go out raw."""

    async def body() -> AsyncIterator[bytes]:
        yield b"x"

    request = httpx.Request("POST", "http://example.test/", content=body(), headers={"Transfer-Encoding": coding})
    with pytest.raises(httpx.LocalProtocolError, match="Transfer-Encoding"):
        prepare_request(request)
    twice = httpx.Request(
        "POST", "http://example.test/", content=body(), headers=[(b"Transfer-Encoding", b"chunked")] * 2
    )
    with pytest.raises(httpx.LocalProtocolError, match="Transfer-Encoding"):
        prepare_request(twice)


def test_streamed_body_framing_is_held_to_its_length() -> None:
    framer = BodyFramer(5)
    assert framer.frame(b"abc") == b"abc"
    with pytest.raises(httpx.LocalProtocolError, match="longer"):
        framer.frame(b"def")
    short = BodyFramer(5)
    short.frame(b"abcd")
    with pytest.raises(httpx.LocalProtocolError, match="shorter"):
        short.end()
    exact = BodyFramer(3)
    assert (exact.frame(b"abc"), exact.end()) == (b"abc", b"")


def test_streamed_body_without_a_length_is_chunked() -> None:
    framer = BodyFramer(None)
    assert framer.frame(b"hello") == b"5\r\nhello\r\n"
    assert framer.frame(b"x" * 26) == b"1a\r\n" + b"x" * 26 + b"\r\n"
    assert framer.frame(b"") == b""  # an empty part must not end the body
    assert framer.end() == b"0\r\n\r\n"


def test_connection_close_in_the_request_is_noticed() -> None:
    """D10: after a request saying Connection: close the connection is not reused (RFC 9112 9.6)."""
    request = httpx.Request("GET", "http://example.test/", headers={"Connection": "Keep-Alive, Close"})
    assert prepare_request(request).close
    assert parse("HTTP/1.1 200 OK", "Content-Length: 0", request_close=True).keep_alive is False


# -- finding the end of a head ---------------------------------------------------------------------------------------


def test_find_head_end() -> None:
    assert find_head_end(b"") == -1
    assert find_head_end(b"HTTP/1.1 200 OK\r\nA: b\r\n") == -1
    head = b"HTTP/1.1 200 OK\r\nA: b\r\n\r\n"
    assert find_head_end(head) == len(head)
    assert find_head_end(bytearray(head + b"body")) == len(head)


def test_find_head_end_refuses_a_head_too_large() -> None:
    assert find_head_end(b"x" * MAX_HEAD_BYTES) == -1  # at the limit: keep reading
    with pytest.raises(httpx.RemoteProtocolError, match="too large"):
        find_head_end(b"x" * (MAX_HEAD_BYTES + 1))
    # a complete head is returned whatever is buffered behind it
    assert find_head_end(b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * (2 * MAX_HEAD_BYTES)) == 19


# -- status lines ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "status", "reason"),
    [
        ("HTTP/1.1 200 OK", 200, b"OK"),
        ("HTTP/1.1 404 Not Found", 404, b"Not Found"),
        ("HTTP/1.1 200", 200, b""),
        ("HTTP/1.1 200 ", 200, b""),
        ("HTTP/1.0 503 Service Unavailable", 503, b"Service Unavailable"),
        ("HTTP/1.1 599 x y  z", 599, b"x y  z"),
    ],
)
def test_status_line(line: str, status: int, reason: bytes) -> None:
    head = parse(line, "Content-Length: 0")
    assert (head.status, head.reason) == (status, reason)


@pytest.mark.parametrize(
    "line",
    [
        "",
        "HTTP/1.1",
        "HTTP/1.1 ",
        "HTTP/1.1 20 OK",
        "HTTP/1.1 2000 OK",
        "HTTP/1.1 2OO OK",
        "HTTP/1.1 +20 OK",
        "HTTP/1.1 -20 OK",
        "HTTP/1.1  200 OK",
        "HTTP/2 200 OK",
        "HTTP/2.0 200 OK",
        "http/1.1 200 OK",
        "HTTP/1.1\t200 OK",
        "ICY 200 OK",
        "200 OK",
        "<html>",
    ],
)
def test_malformed_status_line_is_refused(line: str) -> None:
    with pytest.raises(httpx.RemoteProtocolError, match=r"status line|response head"):
        parse(line, "Content-Length: 0")


@pytest.mark.parametrize("code", ["000", "099", "042"])
def test_status_codes_below_100_are_refused(code: str) -> None:
    """D7: h11 reads them as interim responses and refuses them; they are not final answers."""
    with pytest.raises(httpx.RemoteProtocolError, match="status line"):
        parse(f"HTTP/1.1 {code} Odd", "Content-Length: 0")


# -- header lines ----------------------------------------------------------------------------------------------------


def test_headers_keep_order_and_case_and_lose_surrounding_whitespace() -> None:
    head = parse("HTTP/1.1 200 OK", "Content-Type:  text/plain \t", "X-Empty:", "x-a: 1", "X-A:2", "Content-Length: 0")
    assert head.headers == [
        (b"Content-Type", b"text/plain"),
        (b"X-Empty", b""),
        (b"x-a", b"1"),
        (b"X-A", b"2"),
        (b"Content-Length", b"0"),
    ]


@pytest.mark.parametrize(
    "line",
    [
        "Content-Length : 0",  # whitespace before the colon
        "X-A\t: 1",
        "no colon here",
        ": no name",
        "Bad Name: 1",  # D9: a space in a name
        "X-A: a\x00b",  # D9: NUL
        "X-A: a\rb",  # D9: a bare CR
        "X-A: a\x01b",
    ],
)
def test_malformed_header_line_is_refused(line: str) -> None:
    with pytest.raises(httpx.RemoteProtocolError, match="response head"):
        parse("HTTP/1.1 200 OK", "X-Before: 1", line, "Content-Length: 0")


def test_obs_fold_is_unfolded() -> None:
    """D12: a user agent must replace obsolete line folding with spaces (RFC 9112 5.2), as h11 does."""
    head = parse("HTTP/1.1 200 OK", "X-Folded: first", "  second", "\tthird", "Content-Length: 0")
    assert head.headers == [(b"X-Folded", b"first second third"), (b"Content-Length", b"0")]
    with pytest.raises(httpx.RemoteProtocolError, match="continuation"):
        parse("HTTP/1.1 200 OK", " X-A: 1", "Content-Length: 0")


def test_bare_lf_line_endings_are_accepted() -> None:
    """D13: h11 accepts a head whose lines end in LF alone; the end of the head is found too."""
    raw = b"HTTP/1.1 200 OK\nContent-Length: 2\nX-A: 1\n\nhi"
    end = find_head_end(raw)
    assert raw[end:] == b"hi"
    head = parse_response_head(raw[:end], method=b"GET")
    assert (head.status, head.length, head.headers) == (200, 2, [(b"Content-Length", b"2"), (b"X-A", b"1")])


def test_conflicting_content_lengths_are_refused() -> None:
    with pytest.raises(httpx.RemoteProtocolError, match="Content-Length"):
        parse("HTTP/1.1 200 OK", "Content-Length: 5", "Content-Length: 6")


@pytest.mark.parametrize("value", ["", "abc", "-1", "+5", "5, 5", "0x10", "1_0", "1.5", "٣", "1" * 21, "9" * 5000])
def test_non_digit_content_length_is_refused(value: str) -> None:
    """D6 among them: 5,000 digits once raised a bare ValueError (int() refuses more than 4,300)."""
    with pytest.raises(httpx.RemoteProtocolError, match="Content-Length"):
        parse_response_head(b"HTTP/1.1 200 OK\r\nContent-Length: " + value.encode() + b"\r\n\r\n", method=b"GET")


# -- body framing ----------------------------------------------------------------------------------------------------


def test_content_length_frames_the_body_and_keeps_the_connection() -> None:
    head = parse("HTTP/1.1 200 OK", "Content-Length: 1234")
    assert (head.length, head.keep_alive, head.interim) == (1234, True, False)
    assert parse("HTTP/1.1 200 OK", "Content-Length: 0").length == 0
    assert parse("HTTP/1.1 200 OK", "Content-Length: 00012").length == 12


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses_have_no_body_whatever_the_headers(status: int) -> None:
    head = parse(f"HTTP/1.1 {status} X", "Content-Length: 10")
    assert (head.length, head.keep_alive) == (0, True)
    head = parse(f"HTTP/1.1 {status} X", "Transfer-Encoding: chunked")
    assert head.length == 0
    assert parse(f"HTTP/1.1 {status} X").length == 0  # no length at all is not "until close"
    assert parse(f"HTTP/1.1 {status} X").keep_alive


def test_head_request_has_no_body() -> None:
    head = parse("HTTP/1.1 200 OK", "Content-Length: 10", method=b"HEAD")
    assert (head.length, head.keep_alive) == (0, True)
    head = parse("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", method=b"HEAD")
    assert (head.length, head.keep_alive) == (0, True)
    # the same head for a GET has a body
    assert parse("HTTP/1.1 200 OK", "Content-Length: 10", method=b"GET").length == 10


@pytest.mark.parametrize("status", [100, 102, 103, 199])
def test_interim_responses(status: int) -> None:
    head = parse(f"HTTP/1.1 {status} Whatever", "Link: </a.css>; rel=preload")
    assert head.interim
    assert head.length == 0
    assert not parse("HTTP/1.1 200 OK", "Content-Length: 0").interim


def test_chunked_body() -> None:
    head = parse("HTTP/1.1 200 OK", "Transfer-Encoding: chunked")
    assert (head.length, head.keep_alive) == (CHUNKED, True)
    assert parse("HTTP/1.1 200 OK", "transfer-encoding: CHUNKED").length == CHUNKED


def test_transfer_encoding_beside_content_length_is_chunked_and_not_reused() -> None:
    head = parse("HTTP/1.1 200 OK", "Content-Length: 10", "Transfer-Encoding: chunked")
    assert (head.length, head.keep_alive) == (CHUNKED, False)
    head = parse("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "Content-Length: 10")
    assert (head.length, head.keep_alive) == (CHUNKED, False)


@pytest.mark.parametrize(
    "headers",
    [
        ["Transfer-Encoding: gzip, chunked"],  # D8: the body would be the still-compressed bytes
        ["Transfer-Encoding: chunked", "Transfer-Encoding: gzip"],  # D8: the body would be the chunk framing
        ["Transfer-Encoding: gzip"],
        ["Transfer-Encoding: chunked, gzip"],
        ["Transfer-Encoding: identity"],
        ["Transfer-Encoding: chunked", "Transfer-Encoding: chunked"],
    ],
)
def test_transfer_codings_other_than_one_chunked_are_refused(headers: list[str]) -> None:
    with pytest.raises(httpx.RemoteProtocolError, match="Transfer-Encoding"):
        parse("HTTP/1.1 200 OK", *headers)


def test_no_length_reads_until_close() -> None:
    head = parse("HTTP/1.1 200 OK", "Content-Type: text/plain")
    assert (head.length, head.keep_alive) == (UNTIL_CLOSE, False)
    head = parse("HTTP/1.1 200 OK", "Connection: keep-alive")
    assert (head.length, head.keep_alive) == (UNTIL_CLOSE, False)


def test_connection_close() -> None:
    head = parse("HTTP/1.1 200 OK", "Content-Length: 2", "Connection: close")
    assert (head.length, head.keep_alive) == (2, False)
    assert not parse("HTTP/1.1 200 OK", "Content-Length: 2", "connection: Upgrade, CLOSE").keep_alive
    assert not parse("HTTP/1.1 204 No Content", "Connection: close").keep_alive
    assert parse("HTTP/1.1 200 OK", "Content-Length: 2", "Connection: keep-alive").keep_alive
    assert parse("HTTP/1.1 200 OK", "Content-Length: 2", "Connection: closed").keep_alive  # a token, not a prefix


def test_http_1_0() -> None:
    assert not parse("HTTP/1.0 200 OK", "Content-Length: 2").keep_alive
    assert parse("HTTP/1.0 200 OK", "Content-Length: 2", "Connection: keep-alive").keep_alive
    assert parse("HTTP/1.0 200 OK", "Content-Length: 2", "Connection: Keep-Alive").keep_alive
    head = parse("HTTP/1.0 200 OK", "Connection: keep-alive")  # no length: until close, whatever it says
    assert (head.length, head.keep_alive) == (UNTIL_CLOSE, False)
    # "keep-alive" is not a way to keep an HTTP/1.1 connection the server closes
    assert not parse("HTTP/1.1 200 OK", "Content-Length: 2", "Connection: close, keep-alive").keep_alive


def test_http_1_0_with_transfer_encoding_closes() -> None:
    """D11: an HTTP/1.0 message with Transfer-Encoding ends its connection (RFC 9112 6.1), keep-alive or not."""
    head = parse("HTTP/1.0 200 OK", "Transfer-Encoding: chunked", "Connection: keep-alive")
    assert (head.length, head.keep_alive) == (CHUNKED, False)


# -- chunked decoding ------------------------------------------------------------------------------------------------


def decode(*pieces: bytes) -> tuple[bytes, bool]:
    decoder = ChunkedDecoder()
    out = b"".join(part for piece in pieces for part in decoder.feed(piece))
    return out, decoder.done


def test_chunked_decoder_whole_body() -> None:
    assert decode(b"5\r\nhello\r\n0\r\n\r\n") == (b"hello", True)
    assert decode(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n") == (b"hello world", True)
    assert decode(b"0\r\n\r\n") == (b"", True)
    assert decode(b"A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n") == (b"01234567890123456789", True)


def test_chunked_decoder_byte_by_byte() -> None:
    encoded = b"5;name=value\r\nhello\r\n1\r\n\n\r\n0\r\nTrailer: x\r\n\r\n"
    decoder = ChunkedDecoder()
    out = b""
    for i in range(len(encoded)):
        assert not decoder.done
        out += b"".join(decoder.feed(encoded[i : i + 1]))
    assert (out, decoder.done) == (b"hello\n", True)


def test_chunked_decoder_waits_for_more() -> None:
    decoder = ChunkedDecoder()
    assert decoder.feed(b"5\r\nhel") == [b"hel"]
    assert decoder.feed(b"") == []
    assert decoder.feed(b"lo") == [b"lo"]
    assert not decoder.done
    assert decoder.feed(b"\r\n0\r\n") == []
    assert not decoder.done  # the trailer section has not ended
    assert decoder.feed(b"\r\n") == []
    assert decoder.done


def test_chunk_extensions_are_ignored() -> None:
    assert decode(b"5;a=b\r\nhello\r\n0;last\r\n\r\n") == (b"hello", True)
    assert decode(b'3;name="quoted;value"\r\nabc\r\n0\r\n\r\n') == (b"abc", True)
    assert decode(b"3 ;a=b\r\nabc\r\n0\r\n\r\n") == (b"abc", True)
    # h11 takes anything after the ";"; llhttp holds extensions to their grammar (stricter is allowed)
    with pytest.raises(httpx.RemoteProtocolError, match="chunk extensions"):
        decode(b"3; a=b\r\nabc\r\n0\r\n\r\n")
    assert decode(b"3\t\r\nabc\r\n0\r\n\r\n") == (b"abc", True)


def test_trailers_are_skipped() -> None:
    assert decode(b"3\r\nabc\r\n0\r\nExpires: never\r\nX-Checksum: 1\r\n\r\n") == (b"abc", True)


@pytest.mark.parametrize(
    "size", [b"0x10", b"+1", b"1_0", b"-1", b"", b" ", b"g", b"1 0", b"1" * 17, b"\xd9\xa3", b";a"]
)
def test_malformed_chunk_size_is_refused(size: bytes) -> None:
    with pytest.raises(httpx.RemoteProtocolError, match="chunked body"):
        decode(size + b"\r\n" + b"x" * 20 + b"\r\n0\r\n\r\n")


def test_a_16_digit_chunk_size_is_accepted() -> None:
    decoder = ChunkedDecoder()
    assert decoder.feed(b"0000000000000003\r\nabc\r\n0\r\n\r\n") == [b"abc"]
    assert decoder.done


def test_missing_crlf_after_chunk_data_is_refused() -> None:
    with pytest.raises(httpx.RemoteProtocolError, match="chunked body"):
        decode(b"3\r\nabcd\r\n0\r\n\r\n")


@pytest.mark.parametrize("extra", [b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", b"HTTP/1.1 200 OK\r\n", b"xyz"])
def test_data_after_the_end_is_kept_apart(extra: bytes) -> None:
    """D14: a complete body with more bytes in the same read is the body; the extra bytes only make the
    connection unusable."""
    decoder = ChunkedDecoder()
    assert decoder.feed(b"3\r\nabc\r\n0\r\n\r\n" + extra) == [b"abc"]
    assert (decoder.done, decoder.extra) == (True, True)
    clean = ChunkedDecoder()
    assert clean.feed(b"0\r\n\r\n") == []
    assert (clean.done, clean.extra) == (True, False)
    assert clean.feed(b"") == []
    assert not clean.extra
    clean.feed(b"x")
    assert clean.extra


def test_long_chunk_extensions_are_not_buffered() -> None:
    decoder = ChunkedDecoder()
    assert decoder.feed(b"5;" + b"x" * 100_000) == []
    assert decoder.feed(b"\r\nhello\r\n0\r\n\r\n") == [b"hello"]
    assert decoder.done


# -- property: chunked encoding and decoding round-trip --------------------------------------------------------------


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` cut at the given offsets (taken modulo its length, duplicates ignored)."""
    points = sorted({cut % (len(data) + 1) for cut in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


@settings(max_examples=300, deadline=None)
@given(
    body=st.binary(max_size=3000),
    chunk_cuts=st.lists(st.integers(0, 3000), max_size=30),
    feed_cuts=st.lists(st.integers(0, 4000), max_size=60),
    trailers=st.lists(st.sampled_from([b"X-A: 1", b"Expires: 0", b"X-Empty:"]), max_size=3),
    extension=st.sampled_from([b"", b";a=b", b';q="x;y"']),
)
def test_chunked_round_trip(
    body: bytes, chunk_cuts: list[int], feed_cuts: list[int], trailers: list[bytes], extension: bytes
) -> None:
    pieces = [piece for piece in split(body, chunk_cuts) if piece]
    encoded = b"".join(chunk(piece) for piece in pieces) + chunk(b"")
    if extension or trailers:  # the same framing with extensions on every size line, and trailers at the end
        encoded = b"".join(b"%x%s\r\n%s\r\n" % (len(piece), extension, piece) for piece in pieces)
        encoded += b"0%s\r\n" % extension + b"".join(trailer + b"\r\n" for trailer in trailers) + b"\r\n"
    decoder = ChunkedDecoder()
    out: list[bytes] = []
    for piece in split(encoded, feed_cuts):
        assert not decoder.done
        out += decoder.feed(piece)
    assert b"".join(out) == body
    assert decoder.done
    assert all(out)  # never an empty part
