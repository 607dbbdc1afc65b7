"""Request bodies: API Gateway's base64, then identity/gzip/zstd, with caps checked while streaming.

An HTTP API passes a body as a UTF-8 string when its Content-Type is a text type (`text/*`,
`application/json`, `application/xml`, `application/javascript`) and base64 otherwise; it never
decompresses. Compressed bytes are not UTF-8 (gzip's magic holds 0x8b, zstd's 0xb5 and 0xfd), and AWS
does not document what becomes of them in that string, so a compressed body sent with a text type
cannot be trusted to arrive intact: it is decoded if it did, else refused with the Content-Type to
send. A compressed body that arrived as bytes is decoded even without `Content-Encoding`, by its magic
number, as Tinybird's Events API does.
"""

from __future__ import annotations

import base64
import binascii
import zlib

from lakegate.errors import InvalidRequest, PayloadTooLarge, UnsupportedEncoding

# zstd input is fed in slices this small so that a bomb is stopped one slice past the limit (see _unzstd).
_ZSTD_SLICE = 256
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def raw_body(body: str | None, is_base64: bool) -> bytes:
    """The bytes the client sent: HTTP APIs pass non-text content types base64-encoded."""
    if not body:
        return b""
    if not is_base64:
        return body.encode("utf-8")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as e:
        raise InvalidRequest("The request body is not valid base64") from e


def sniffed(raw: bytes) -> str:
    """The coding a body's first bytes say it has ("" for none): gzip's and zstd's magic numbers, and
    what is left of them in a text body (0x1f, or `(` then a byte that is not ASCII: no JSON starts so)."""
    if raw.startswith((_GZIP_MAGIC, _ZSTD_MAGIC)):
        return "gzip" if raw.startswith(_GZIP_MAGIC) else "zstd"
    if raw[:1] == b"\x1f" or (raw[:1] == b"(" and raw[1:2] >= b"\x80"):
        return "compressed"
    return ""


def decode(
    raw: bytes, content_encoding: str, max_compressed: int, max_decompressed: int, text_type: str = ""
) -> bytes:
    """Undo `Content-Encoding`, refusing a body over either cap with 413 and an unknown coding with 415.
    `text_type` is the Content-Type of a body API Gateway passed as text ("" when it passed bytes)."""
    coding = content_encoding.strip().lower()
    sniff = sniffed(raw)
    if text_type and (coding in _COMPRESSED or sniff):
        kind = coding if coding in _COMPRESSED else sniff
        if kind not in _COMPRESSED:  # what is left of a magic number: not decodable
            raise _sent_as_text(kind, text_type)
        try:
            return decode(raw, kind, max_compressed, max_decompressed)
        except InvalidRequest as e:  # the bytes did not survive the text form
            raise _sent_as_text(kind, text_type) from e
    if not coding and sniff in _COMPRESSED:
        coding = sniff
    if len(raw) > max_compressed:
        raise PayloadTooLarge(
            f"Request body too large: {len(raw)} bytes received, the limit is {max_compressed} bytes. "
            "Split the batch into smaller requests."
        )
    if coding in ("", "identity"):
        if len(raw) > max_decompressed:
            raise PayloadTooLarge(
                f"Request body too large: {len(raw)} bytes, the limit is {max_decompressed} bytes."
            )
        return raw
    if coding in ("gzip", "x-gzip"):
        return _gunzip(raw, max_decompressed)
    if coding == "zstd":
        return _unzstd(raw, max_decompressed)
    raise UnsupportedEncoding(
        f"Unsupported Content-Encoding '{content_encoding.strip()}': use gzip, zstd or none"
    )


_COMPRESSED = ("gzip", "x-gzip", "zstd")


def _sent_as_text(coding: str, text_type: str) -> InvalidRequest:
    media = text_type.split(";", 1)[0].strip()[:100]
    kind = "compressed" if coding == "compressed" else coding
    return InvalidRequest(
        f"The body is {kind} but was sent with Content-Type '{media}', a text type, which API Gateway passes "
        "to lakegate as UTF-8 text: compressed bytes do not survive that. Send compressed bodies with "
        "Content-Type: application/octet-stream (or application/x-ndjson), keeping Content-Encoding"
    )


def _too_large(limit: int, coding: str, seen: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"Decompressed body too large: more than {limit} bytes after decompressing {coding} "
        f"({seen} compressed bytes sent), the limit is {limit} bytes. Split the batch into smaller requests."
    )


def _gunzip(raw: bytes, limit: int) -> bytes:
    out: list[bytes] = []
    size = 0
    data = raw
    try:
        # A gzip body may hold several members (`cat a.gz b.gz`): decode each in turn. zlib stops
        # inflating one byte past what the cap allows, so a bomb costs the cap, not its size; one call
        # per member, not a slice at a time, saves ~15% of the time on bench/ingest.py's 10 MB.
        while data:
            d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            piece = d.decompress(data, limit - size + 1)
            size += len(piece)
            if size > limit:
                raise _too_large(limit, "gzip", len(raw))
            out.append(piece)
            if not d.eof:
                raise InvalidRequest("The gzip body is truncated")
            data = d.unused_data
    except zlib.error as e:
        raise InvalidRequest(f"The body is not valid gzip: {e}") from e
    return out[0] if len(out) == 1 else b"".join(out)


def _unzstd(raw: bytes, limit: int) -> bytes:
    import zstandard

    out: list[bytes] = []
    size = 0
    view, pos = memoryview(raw), 0
    try:
        # zstandard's decompressobj has no output cap, so feed it small input slices: one slice can
        # grow at most ~32,000x (RLE blocks), which bounds the overshoot past the limit. It also
        # tells a finished frame from a truncated one, which the stream reader does not.
        while pos < len(raw):
            d = zstandard.ZstdDecompressor().decompressobj()
            while pos < len(raw) and not d.eof:
                piece = d.decompress(view[pos : pos + _ZSTD_SLICE])
                pos += _ZSTD_SLICE
                size += len(piece)
                if size > limit:
                    raise _too_large(limit, "zstd", len(raw))
                out.append(piece)
            if not d.eof:
                raise InvalidRequest("The zstd body is truncated")
            # unused_data is the tail of the last slice, past the end of this frame: start the next there.
            pos = min(pos, len(raw)) - len(d.unused_data)
    except zstandard.ZstdError as e:
        raise InvalidRequest(f"The body is not valid zstd: {e}") from e
    return b"".join(out)
