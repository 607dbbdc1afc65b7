"""Request bodies: base64 from API Gateway, identity/gzip/zstd, the two size caps, bombs and corrupt data."""

from __future__ import annotations

import base64
import gzip
import struct
import tracemalloc
import zlib

import pytest
import zstandard

from lakegate.errors import InvalidRequest, PayloadTooLarge, UnsupportedEncoding
from lakegate.ingest.body import decode, raw_body
from lakegate_local.apigw import api_event

MB = 1024 * 1024
BIG = 1 << 40  # a cap that is never reached
SEED = (
    b'{"date": "2020-04-05 00:05:38", "city": "Chicago"}\n{"date": "2020-04-05 00:07:22", "city": "Madrid"}\n'
)


def _ndjson(rows: int) -> bytes:
    """Varied rows (so they do not compress to nothing), several times larger than one decode slice."""
    return b"".join(b'{"i":%d,"city":"c%x","v":%d.5}\n' % (i, i * 7919, i * 31) for i in range(rows))


def _gzip_zeros(mib: int) -> bytes:
    """One gzip member holding `mib` MiB of zeros, built without ever holding more than 1 MiB of them.

    After a full flush deflate starts afresh, so every 1 MiB block of zeros compresses to the same bytes:
    compress one block once and repeat it, then add the real CRC and size so the member is valid.
    """
    zeros = bytes(MB)
    c = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    end = c.flush()
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + block * mib + end + struct.pack("<II", crc, (mib * MB) & 0xFFFFFFFF)


def _zstd_zeros(mib: int) -> bytes:
    """One zstd frame holding `mib` MiB of zeros, compressed as a stream 1 MiB at a time."""
    zeros = bytes(MB)
    c = zstandard.ZstdCompressor().compressobj()
    parts = [c.compress(zeros) for _ in range(mib)]
    parts.append(c.flush())
    return b"".join(parts)


# --- raw_body -------------------------------------------------------------------------------------


def test_raw_body_empty_or_missing_is_empty_bytes() -> None:
    assert raw_body(None, False) == b""
    assert raw_body("", True) == b""


def test_raw_body_text_is_utf8_encoded() -> None:
    assert raw_body('{"city": "Málaga"}', False) == '{"city": "Málaga"}'.encode()


def test_raw_body_base64_is_decoded_byte_for_byte() -> None:
    compressed = gzip.compress(SEED)
    assert raw_body(base64.b64encode(compressed).decode(), True) == compressed


@pytest.mark.parametrize("text", ["not base64!", "abc", "eyJhIjoxfQ=\n="])
def test_raw_body_invalid_base64_is_invalid_request(text: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        raw_body(text, True)
    assert info.value.message == "The request body is not valid base64"


# --- identity -------------------------------------------------------------------------------------


@pytest.mark.parametrize("coding", ["", "identity", " Identity "])
def test_identity_is_returned_unchanged(coding: str) -> None:
    assert decode(SEED, coding, BIG, BIG) == SEED


def test_identity_at_the_decompressed_cap_passes() -> None:
    assert decode(b"x" * 10, "", 100, 10) == b"x" * 10


def test_identity_over_the_decompressed_cap_is_payload_too_large() -> None:
    with pytest.raises(PayloadTooLarge) as info:
        decode(b"x" * 11, "identity", 100, 10)
    assert info.value.message == "Request body too large: 11 bytes, the limit is 10 bytes."


@pytest.mark.parametrize("coding", ["", "gzip", "zstd", "br"])
def test_over_the_compressed_cap_is_payload_too_large_whatever_the_coding(coding: str) -> None:
    with pytest.raises(PayloadTooLarge) as info:
        decode(b"x" * 11, coding, 10, BIG)
    assert info.value.message == (
        "Request body too large: 11 bytes received, the limit is 10 bytes. "
        "Split the batch into smaller requests."
    )


def test_at_the_compressed_cap_passes() -> None:
    body = gzip.compress(SEED)
    assert decode(body, "gzip", len(body), BIG) == SEED


# --- gzip -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("coding", ["gzip", "GZIP", " gzip ", "x-gzip"])
def test_gzip_is_decompressed(coding: str) -> None:
    assert decode(gzip.compress(SEED), coding, BIG, BIG) == SEED


def test_gzip_larger_than_one_decode_slice() -> None:
    data = _ndjson(100_000)
    assert len(data) > 2 * MB
    assert decode(gzip.compress(data), "gzip", BIG, BIG) == data


def test_gzip_multi_member_is_concatenated() -> None:
    # Given `cat a.gz b.gz c.gz`, the last member bigger than one slice
    a, b, c = b'{"a":1}\n', b'{"b":2}\n', _ndjson(50_000)
    body = gzip.compress(a) + gzip.compress(b) + gzip.compress(c)
    # Then every member is decoded, in order
    assert decode(body, "gzip", BIG, BIG) == a + b + c


def test_gzip_empty_body_is_empty() -> None:
    assert decode(b"", "gzip", BIG, BIG) == b""


def test_gzip_exactly_at_the_decompressed_cap_passes() -> None:
    assert decode(gzip.compress(b"x" * 1000), "gzip", BIG, 1000) == b"x" * 1000


def test_gzip_over_the_decompressed_cap_names_the_limit_and_the_size_sent() -> None:
    body = gzip.compress(b"x" * 1001)
    with pytest.raises(PayloadTooLarge) as info:
        decode(body, "gzip", BIG, 1000)
    assert info.value.message == (
        f"Decompressed body too large: more than 1000 bytes after decompressing gzip ({len(body)} compressed "
        "bytes sent), the limit is 1000 bytes. Split the batch into smaller requests."
    )


def test_gzip_over_the_cap_in_a_later_member() -> None:
    body = gzip.compress(b"x" * 600) + gzip.compress(b"y" * 600)
    with pytest.raises(PayloadTooLarge):
        decode(body, "gzip", BIG, 1000)


def test_gzip_truncated_is_invalid_request() -> None:
    body = gzip.compress(_ndjson(1000))
    with pytest.raises(InvalidRequest) as info:
        decode(body[: len(body) // 2], "gzip", BIG, BIG)
    assert info.value.message == "The gzip body is truncated"


def test_gzip_missing_its_trailer_is_invalid_request() -> None:
    with pytest.raises(InvalidRequest) as info:
        decode(gzip.compress(SEED)[:-4], "gzip", BIG, BIG)
    assert info.value.message == "The gzip body is truncated"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"plain text, not gzip", "incorrect header check"),
        (gzip.compress(SEED) + b"trailing junk", "incorrect header check"),
        # The CRC32 of the trailer flipped: the data does not match its checksum.
        (
            gzip.compress(SEED)[:-8] + bytes([gzip.compress(SEED)[-8] ^ 0xFF]) + gzip.compress(SEED)[-7:],
            "incorrect data check",
        ),
    ],
    ids=["not-gzip", "trailing-junk", "bad-crc"],
)
def test_gzip_corrupt_is_invalid_request(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        decode(body, "gzip", BIG, BIG)
    assert info.value.message == f"The body is not valid gzip: Error -3 while decompressing data: {reason}"


def test_gzip_bomb_is_stopped_early_with_little_memory() -> None:
    # Given 1 GiB of zeros in one gzip member of about 1 MB, under the compressed cap
    bomb = _gzip_zeros(1024)
    assert len(bomb) < 4 * MB
    # When it is decoded with a 10 MiB cap
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLarge) as info:
            decode(bomb, "gzip", 4 * MB, 10 * MB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Then it is refused having held little more than the cap
    assert "more than 10485760 bytes after decompressing gzip" in info.value.message
    assert peak < 32 * MB


def test_gzip_bomb_builder_makes_a_valid_member() -> None:
    # The bomb is only a fair test if the trick that builds it yields a correct gzip stream.
    assert gzip.decompress(_gzip_zeros(3)) == bytes(3 * MB)
    assert decode(_gzip_zeros(3), "gzip", BIG, BIG) == bytes(3 * MB)
    assert decode(_gzip_zeros(0), "gzip", BIG, BIG) == b""


# --- zstd -----------------------------------------------------------------------------------------


def test_zstd_is_decompressed() -> None:
    assert decode(zstandard.ZstdCompressor().compress(SEED), "zstd", BIG, BIG) == SEED


def test_zstd_streamed_frame_without_content_size() -> None:
    data = _ndjson(100_000)
    c = zstandard.ZstdCompressor().compressobj()
    body = c.compress(data) + c.flush()
    assert decode(body, " ZSTD ", BIG, BIG) == data


def test_zstd_multi_frame_small_frames_are_concatenated() -> None:
    z = zstandard.ZstdCompressor()
    body = z.compress(b'{"a":1}\n') + z.compress(b'{"b":2}\n') + z.compress(b'{"c":3}\n')
    assert decode(body, "zstd", BIG, BIG) == b'{"a":1}\n{"b":2}\n{"c":3}\n'


def test_zstd_multi_frame_large_frames_are_concatenated() -> None:
    # Given two frames, each far bigger than one 256-byte input slice
    z = zstandard.ZstdCompressor()
    a, b = _ndjson(20_000), _ndjson(30_000)
    body = z.compress(a) + z.compress(b)
    # Then both are decoded, in order
    assert decode(body, "zstd", BIG, BIG) == a + b


def test_zstd_exactly_at_the_decompressed_cap_passes() -> None:
    assert decode(zstandard.ZstdCompressor().compress(b"x" * 1000), "zstd", BIG, 1000) == b"x" * 1000


def test_zstd_over_the_decompressed_cap_names_the_limit_and_the_size_sent() -> None:
    body = zstandard.ZstdCompressor().compress(b"x" * 1001)
    with pytest.raises(PayloadTooLarge) as info:
        decode(body, "zstd", BIG, 1000)
    assert info.value.message == (
        f"Decompressed body too large: more than 1000 bytes after decompressing zstd ({len(body)} compressed "
        "bytes sent), the limit is 1000 bytes. Split the batch into smaller requests."
    )


def test_zstd_truncated_is_invalid_request() -> None:
    body = zstandard.ZstdCompressor().compress(_ndjson(1000))
    with pytest.raises(InvalidRequest) as info:
        decode(body[:-3], "zstd", BIG, BIG)
    assert info.value.message == "The zstd body is truncated"


@pytest.mark.parametrize(
    "body",
    [b"plain text, not zstd at all", zstandard.ZstdCompressor().compress(SEED) + b"trailing junk"],
    ids=["not-zstd", "trailing-junk"],
)
def test_zstd_corrupt_is_invalid_request(body: bytes) -> None:
    with pytest.raises(InvalidRequest) as info:
        decode(body, "zstd", BIG, BIG)
    assert info.value.message.startswith("The body is not valid zstd: ")


def test_zstd_bomb_is_stopped_early_with_little_memory() -> None:
    # Given 1 GiB of zeros in one small zstd frame
    bomb = _zstd_zeros(1024)
    assert len(bomb) < 4 * MB
    # When it is decoded with a 10 MiB cap
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLarge) as info:
            decode(bomb, "zstd", 4 * MB, 10 * MB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Then it is refused having held little more than the cap
    assert "more than 10485760 bytes after decompressing zstd" in info.value.message
    assert peak < 32 * MB


# --- unknown codings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("coding", "named"), [("br", "br"), (" Deflate ", "Deflate"), ("gzip, br", "gzip, br")]
)
def test_unknown_encoding_is_unsupported_and_named(coding: str, named: str) -> None:
    with pytest.raises(UnsupportedEncoding) as info:
        decode(SEED, coding, BIG, BIG)
    assert info.value.message == f"Unsupported Content-Encoding '{named}': use gzip, zstd or none"


# --- compressed bodies API Gateway passed as text -----------------------------------------------------

ADVICE = "Send compressed bodies with Content-Type: application/octet-stream (or application/x-ndjson)"


def _as_api_gateway_passes(body: bytes, content_type: str) -> bytes:
    """The bytes a text body becomes on its way through the local API Gateway (UTF-8 string) and raw_body."""
    event = api_event("POST", "/v0/events", {"content-type": content_type}, body)
    assert event["isBase64Encoded"] is False
    return raw_body(event["body"], False)


@pytest.mark.parametrize("coding", ["gzip", "zstd"])
@pytest.mark.parametrize("content_type", ["application/json", "text/plain; charset=utf-8"])
@pytest.mark.parametrize("header", [True, False])
def test_a_compressed_body_sent_with_a_text_type_is_a_400_naming_the_content_type_to_send(
    coding: str, content_type: str, header: bool
) -> None:
    packed = gzip.compress(SEED) if coding == "gzip" else zstandard.ZstdCompressor().compress(SEED)
    raw = _as_api_gateway_passes(packed, content_type)
    assert raw != packed  # gzip's 0x8b and zstd's 0xb5, 0xfd are not UTF-8: they do not survive

    with pytest.raises(InvalidRequest) as info:
        decode(raw, coding if header else "", BIG, BIG, content_type)

    media = content_type.split(";", maxsplit=1)[0]
    assert info.value.message.startswith(
        f"The body is {coding if header else 'compressed'} but was sent with"
    )
    assert f"Content-Type '{media}', a text type" in info.value.message and ADVICE in info.value.message


def test_a_text_body_that_survived_intact_is_decoded() -> None:
    # No real gzip stream is UTF-8; a body that reached us whole (e.g. a test's event) is still decoded.
    assert decode(gzip.compress(SEED), "gzip", BIG, BIG, "application/json") == SEED


def test_a_plain_text_body_is_not_mistaken_for_a_compressed_one() -> None:
    for text in (SEED, b"(not json)\n", b"  {}", '{"a": "\u00e9"}'.encode()):
        assert decode(text, "", BIG, BIG, "application/json") == text


@pytest.mark.parametrize("coding", ["gzip", "zstd"])
def test_a_compressed_body_passed_as_bytes_is_decoded_by_its_magic_number_without_content_encoding(
    coding: str,
) -> None:
    packed = gzip.compress(SEED) if coding == "gzip" else zstandard.ZstdCompressor().compress(SEED)

    assert decode(packed, "", BIG, BIG) == SEED
    with pytest.raises(PayloadTooLarge):  # and its cap still holds
        decode(packed, "", BIG, 10)
