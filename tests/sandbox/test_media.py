"""Run outputs are real files, served on the sandbox's own origin without a key."""

from __future__ import annotations

import io
import struct
import wave
import zlib

import httpx2
import pytest

from flora_mcp.api.models import RunState
from flora_mcp.sandbox import Sandbox, SandboxConfig
from flora_mcp.sandbox.media import PNG_SIGNATURE

from .helpers import generation_body

pytestmark = pytest.mark.anyio


async def completed_output(client: httpx2.AsyncClient, kind: str) -> tuple[str, str]:
    run_id = (await client.post("/runs/generation", json=generation_body(type=kind))).json()["run_id"]
    state = RunState.model_validate((await client.get(f"/runs/{run_id}")).json())
    assert state.outputs is not None
    return state.outputs[0].type, state.outputs[0].url


def png_chunks(data: bytes) -> dict[bytes, bytes]:
    assert data[:8] == PNG_SIGNATURE
    chunks: dict[bytes, bytes] = {}
    offset = 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        payload = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert crc == zlib.crc32(kind + payload)
        chunks[kind] = chunks.get(kind, b"") + payload
        offset += 12 + length
    return chunks


@pytest.mark.parametrize("config", [SandboxConfig(time_scale=0)])
async def test_an_image_output_is_a_png_that_decodes_and_needs_no_key(
    client: httpx2.AsyncClient, sandbox: Sandbox
) -> None:
    kind, url = await completed_output(client, "image")
    async with httpx2.AsyncClient(transport=sandbox.transport()) as no_key:
        response = await no_key.get(url)

    assert kind == "imageUrl"
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    chunks = png_chunks(response.content)
    width, height, depth, colour, _, _, _ = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert (width, height, depth, colour) == (64, 64, 8, 2)
    pixels = zlib.decompress(chunks[b"IDAT"])
    assert len(pixels) == height * (1 + width * 3)
    assert b"IEND" in chunks


@pytest.mark.parametrize("config", [SandboxConfig(time_scale=0)])
async def test_an_audio_output_is_a_wav_that_opens(client: httpx2.AsyncClient) -> None:
    kind, url = await completed_output(client, "audio")
    response = await client.get(url)

    assert kind == "audioUrl"
    assert response.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(response.content)) as audio:
        assert audio.getnchannels() == 1
        assert audio.getnframes() == audio.getframerate()  # one second


@pytest.mark.parametrize("config", [SandboxConfig(time_scale=0)])
async def test_a_video_output_is_an_mp4_container(client: httpx2.AsyncClient) -> None:
    kind, url = await completed_output(client, "video")
    response = await client.get(url)

    assert kind == "videoUrl"
    assert response.headers["content-type"] == "video/mp4"
    data = response.content
    boxes = []
    offset = 0
    while offset < len(data):
        (size,) = struct.unpack(">I", data[offset : offset + 4])
        boxes.append(data[offset + 4 : offset + 8])
        offset += size
    assert offset == len(data)
    assert boxes == [b"ftyp", b"moov", b"mdat"]


async def test_media_of_a_run_that_has_not_completed_is_not_found(client: httpx2.AsyncClient) -> None:
    run_id = (await client.post("/runs/generation", json=generation_body())).json()["run_id"]

    response = await client.get(f"http://sandbox.test/media/{run_id}/output_1.png")

    assert response.status_code == 404


@pytest.mark.parametrize("config", [SandboxConfig(time_scale=0)])
async def test_images_differ_between_runs(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    _, first = await completed_output(client, "image")
    _, second = await completed_output(client, "image")

    assert (await client.get(first)).content != (await client.get(second)).content
