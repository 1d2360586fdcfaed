"""Reading request bodies with limits: a size cap that also holds after gzip decompression.

Every body route reads through :func:`read_body`, so a 100 MB upload or a gzip bomb costs
the server at most ``max_bytes`` of memory and gets a 413, never an out-of-memory crash.
"""

from __future__ import annotations

import zlib

from starlette.requests import Request

__all__ = ["BodyError", "decode_content", "read_body"]

#: how much of an oversized body is read (and dropped) so the client can read the 413:
#: a client that sends its whole body before it reads the answer would otherwise see a
#: reset connection instead of the error
_DRAIN_LIMIT = 1 << 30


class BodyError(Exception):
    """A body refused before it was parsed; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, decompressed per Content-Encoding, at most ``max_bytes``."""
    length = request.headers.get("content-length")
    too_big = False
    if length is not None:
        try:
            too_big = int(length) > max_bytes
        except ValueError:
            raise BodyError(400, "Content-Length is not a number") from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            too_big = True
        if too_big:
            chunks.clear()
            if size > _DRAIN_LIMIT:
                break
            continue
        chunks.append(chunk)
    if too_big:
        raise BodyError(413, f"the request body is larger than {max_bytes} bytes")
    return decode_content(b"".join(chunks), request.headers.get("content-encoding"), max_bytes)


def decode_content(body: bytes, encoding: str | None, max_bytes: int) -> bytes:
    """Undo ``gzip``/``deflate`` content encoding without ever holding more than
    ``max_bytes`` of output (a gzip bomb is refused, not inflated)."""
    enc = (encoding or "identity").strip().lower()
    if enc in ("", "identity"):
        return body
    if enc == "gzip":
        wbits = 16 + zlib.MAX_WBITS
    elif enc == "deflate":
        wbits = zlib.MAX_WBITS
    else:
        raise BodyError(415, f"Content-Encoding {enc!r} is not supported (use gzip)")
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise BodyError(400, f"the {enc} body is corrupt ({exc})") from None
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise BodyError(413, f"the decompressed body is larger than {max_bytes} bytes")
    if not inflater.eof:
        raise BodyError(400, f"the {enc} body is truncated")
    return out
