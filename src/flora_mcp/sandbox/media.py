"""Small, real media files for sandbox run outputs, made with the standard library only.

- image: a 64x64 RGB PNG gradient whose colours derive from the run id (a tiny PNG encoder:
  signature, IHDR, one zlib IDAT, IEND, each chunk with its CRC).
- audio: a 1 second, 8 kHz, 16-bit mono WAV sine tone whose pitch derives from the run id.
- video: a structurally valid ISO BMFF ("MP4") file: an `ftyp` box, a `moov` box holding a
  one-second `mvhd`, and an `mdat` box of a few seed bytes. It parses as MP4 but carries no
  playable track; it exists so a client can check the type, size and download path of a video.
"""

from __future__ import annotations

import functools
import hashlib
import io
import math
import struct
import wave
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

CONTENT_TYPES = {"png": "image/png", "wav": "audio/wav", "mp4": "video/mp4"}


def _seed_bytes(seed: str) -> bytes:
    return hashlib.sha256(seed.encode("utf-8")).digest()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_gradient(seed: str, size: int = 64) -> bytes:
    """A size x size RGB PNG: a diagonal gradient between two colours picked from `seed`."""
    digest = _seed_bytes(seed)
    start, end = digest[0:3], digest[3:6]
    rows = bytearray()
    span = max(1, 2 * (size - 1))
    for y in range(size):
        rows.append(0)  # filter type "None" for every scanline
        for x in range(size):
            t = (x + y) / span
            rows.extend(round(a + (b - a) * t) for a, b in zip(start, end, strict=True))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (
        PNG_SIGNATURE
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(bytes(rows)))
        + _png_chunk(b"IEND", b"")
    )


def wav_tone(seed: str, seconds: float = 1.0, rate: int = 8000) -> bytes:
    """A mono 16-bit WAV sine tone, pitch 220-880 Hz picked from `seed`."""
    frequency = 220 + _seed_bytes(seed)[0] / 255 * 660
    frames = int(seconds * rate)
    samples = b"".join(
        struct.pack("<h", int(12000 * math.sin(2 * math.pi * frequency * n / rate))) for n in range(frames)
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples)
    return buffer.getvalue()


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mp4_stub(seed: str) -> bytes:
    """A minimal MP4 container (ftyp + moov/mvhd + mdat); see the module docstring."""
    ftyp = _box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2mp41")
    identity_matrix = struct.pack(">9I", 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)
    mvhd = _box(
        b"mvhd",
        struct.pack(">B3xIIII", 0, 0, 0, 1000, 1000)  # version, flags, times, timescale 1000, 1 s
        + struct.pack(">IH10x", 0x00010000, 0x0100)  # rate 1.0, volume 1.0, reserved
        + identity_matrix
        + bytes(24)  # pre_defined
        + struct.pack(">I", 1),  # next_track_ID
    )
    moov = _box(b"moov", mvhd)
    mdat = _box(b"mdat", _seed_bytes(seed))
    return ftyp + moov + mdat


@functools.lru_cache(maxsize=32)
def render(extension: str, seed: str, image_size: int = 64) -> bytes:
    """The file for an output with this extension (png, wav, mp4); the same bytes on every read."""
    if extension == "png":
        return png_gradient(seed, image_size)
    if extension == "wav":
        return wav_tone(seed)
    if extension == "mp4":
        return mp4_stub(seed)
    raise ValueError(f"no sandbox media of type {extension!r}")
