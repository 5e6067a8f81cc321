"""Reading a response body with a hard cap on the decoded size, decompression bombs included."""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import httpx

__all__ = ["ACCEPT_ENCODING", "BodyError", "BodyTooLarge", "read_capped_body"]

ACCEPT_ENCODING = "gzip, deflate"  # the encodings decoded here, bounded in output size
GZIP_WBITS = zlib.MAX_WBITS | 16  # gzip header and trailer
ZLIB_WBITS = zlib.MAX_WBITS  # RFC 1950 "deflate" as the HTTP spec means it
RAW_DEFLATE_WBITS = -zlib.MAX_WBITS  # the headerless deflate some servers send instead
GZIP_MAGIC = b"\x1f\x8b"  # the first bytes of every gzip member
INFLATE_STEP = 256 * 1024  # most bytes inflated per step: memory stays near the cap, not past it


class BodyError(Exception):
    """The body could not be read; ``message`` is short and safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BodyTooLarge(BodyError):
    """The decoded body is larger than the cap."""


def read_capped_body(response: httpx.Response, max_bytes: int) -> bytearray:
    """The decoded body of a streamed ``response``, refusing more than ``max_bytes``.

    Stops reading as soon as the cap is passed, and inflates compressed data in small steps
    until it is, so neither a huge body nor a small compressed one that inflates enormously
    costs much more than ``max_bytes`` of memory.
    """
    too_large = BodyTooLarge(f"The response body is larger than {describe_size(max_bytes)}.")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    decoder = _decoder_for(response.headers.get("content-encoding", ""))
    body = bytearray()
    received = 0  # raw bytes, also capped: data after the end of a compressed stream counts
    for raw in response.iter_raw():
        received += len(raw)
        if received > max_bytes:
            raise too_large
        for piece in decoder.decode(raw):
            body += piece
            if len(body) > max_bytes:
                raise too_large
    body += decoder.finish()
    if len(body) > max_bytes:
        raise too_large
    return body


def describe_size(size: int) -> str:
    """``10485760`` -> ``"10 MiB"``, for messages."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} bytes"


class _Identity:
    def decode(self, data: bytes) -> Iterator[bytes]:
        yield data

    def finish(self) -> bytes:
        return b""


class _Inflate:
    """gzip or deflate, inflating at most ``INFLATE_STEP`` bytes at a time (``max_length``).

    The caller stops asking once it has enough, so a small input that would inflate to
    gigabytes never does.
    """

    def __init__(self, wbits: int) -> None:
        self._wbits = wbits
        self._inflater = zlib.decompressobj(wbits)
        self._started = False

    def decode(self, data: bytes) -> Iterator[bytes]:
        while data:
            if self._inflater.eof:
                if self._wbits != GZIP_WBITS or not data.startswith(GZIP_MAGIC):
                    return  # bytes after the end of the stream (padding, garbage): ignored
                # Concatenated gzip members (RFC 1952 allows several): start the next one.
                self._inflater = zlib.decompressobj(self._wbits)
            try:
                piece = self._inflater.decompress(data, INFLATE_STEP)
            except zlib.error:
                if self._wbits == ZLIB_WBITS and not self._started:
                    self._wbits = RAW_DEFLATE_WBITS  # retry as headerless deflate
                    self._inflater = zlib.decompressobj(self._wbits)
                    continue
                raise BodyError("The response body is not valid compressed data.") from None
            self._started = True
            data = self._inflater.unconsumed_tail or (
                self._inflater.unused_data if self._inflater.eof else b""
            )
            yield piece

    def finish(self) -> bytes:
        try:
            return self._inflater.flush()
        except zlib.error:
            raise BodyError("The response body is not valid compressed data.") from None


def _decoder_for(content_encoding: str) -> _Identity | _Inflate:
    encoding = content_encoding.strip().lower()
    if encoding in {"", "identity"}:
        return _Identity()
    if encoding in {"gzip", "x-gzip"}:
        return _Inflate(GZIP_WBITS)
    if encoding == "deflate":
        return _Inflate(ZLIB_WBITS)
    raise BodyError("The response uses a content encoding the fetcher does not accept.")
