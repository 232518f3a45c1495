"""Previews: real PNGs from the sandbox's media, a noisy photo-sized image, and real video files."""

from __future__ import annotations

import base64
import io
import os

import av
import pytest
from PIL import Image

from flora_mcp.outputs import previews
from flora_mcp.outputs.previews import PreviewBudget, PreviewError, contact_sheet_sync, image_preview_sync
from flora_mcp.sandbox import media


def decoded(preview: previews.Preview) -> Image.Image:
    data = base64.b64decode(preview.block.data)
    assert len(data) == preview.size
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_a_one_megapixel_sandbox_png_becomes_a_768px_jpeg_within_150_kb() -> None:
    preview = image_preview_sync(media.render("png", "run_bench", 1024))
    image = decoded(preview)
    assert image.format == "JPEG" and preview.block.mime_type == "image/jpeg"
    assert image.size == (768, 768) == (preview.width, preview.height)
    assert preview.size <= previews.MAX_PREVIEW_BYTES


def test_a_small_image_is_not_enlarged() -> None:
    preview = image_preview_sync(media.render("png", "run_small"))
    assert (preview.width, preview.height) == (64, 64)


def test_a_noisy_image_is_squeezed_under_the_cap_it_is_given() -> None:
    noise = Image.frombytes("RGB", (2000, 1500), os.urandom(2000 * 1500 * 3))
    source = io.BytesIO()
    noise.save(source, "PNG")
    preview = image_preview_sync(source.getvalue(), max_bytes=60_000)
    assert preview.size <= 60_000
    assert max(decoded(preview).size) <= 768


def test_transparency_is_flattened_on_white() -> None:
    clear = Image.new("RGBA", (100, 50), (255, 0, 0, 0))
    source = io.BytesIO()
    clear.save(source, "PNG")
    pixel = decoded(image_preview_sync(source.getvalue())).convert("RGB").getpixel((50, 25))
    assert isinstance(pixel, tuple) and min(pixel) > 240


def test_bytes_that_are_not_an_image_say_so() -> None:
    with pytest.raises(PreviewError, match="not an image"):
        image_preview_sync(b"<html>not found</html>")


def test_a_truncated_png_says_it_could_not_be_decoded() -> None:
    with pytest.raises(PreviewError):
        image_preview_sync(media.render("png", "run_cut", 256)[:400])


def make_video(frames: int = 24, size: tuple[int, int] = (320, 240)) -> bytes:
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=12)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for index in range(frames):
            still = Image.new("RGB", size, (index * 10 % 256, 80, 255 - index * 10 % 256))
            for packet in stream.encode(av.VideoFrame.from_image(still)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def test_a_video_becomes_a_contact_sheet_of_four_frames() -> None:
    preview = contact_sheet_sync(make_video())
    sheet = decoded(preview)
    # Two columns and two rows of 320x240 frames with 4 px gaps.
    assert sheet.size == (644, 484)
    first, last = sheet.getpixel((10, 10)), sheet.getpixel((334, 254))
    assert first != last  # frames from different moments
    assert preview.size <= previews.MAX_PREVIEW_BYTES


def test_the_sandbox_video_without_a_track_says_so() -> None:
    with pytest.raises(PreviewError, match="no video track"):
        contact_sheet_sync(media.render("mp4", "run_video"))


def test_garbage_is_not_a_video() -> None:
    with pytest.raises(PreviewError, match="could not be decoded"):
        contact_sheet_sync(b"\x00" * 2048)


def test_the_budget_allows_four_previews_and_caps_their_bytes() -> None:
    budget = PreviewBudget()
    preview = image_preview_sync(media.render("png", "run_budget", 512))
    for _ in range(4):
        assert budget.refusal() is None
        budget.spend(preview)
    assert budget.refusal() == "only 4 previews are shown in one result"
    tight = PreviewBudget(total_bytes=5_000)
    assert tight.refusal() is not None
    assert PreviewBudget(total_bytes=90_000).cap() == 90_000


def test_a_huge_jpeg_is_previewed_from_a_reduced_decode() -> None:
    # draft() decodes 8000x8000 at 1/8 scale: over the pixel limit as written, cheap as decoded.
    out = io.BytesIO()
    Image.new("RGB", (8000, 8000), (200, 30, 30)).save(out, "JPEG", quality=50)
    preview = image_preview_sync(out.getvalue())
    assert (preview.width, preview.height) == (768, 768)


def test_a_png_over_the_pixel_limit_is_refused_before_decoding() -> None:
    out = io.BytesIO()
    Image.new("L", (6000, 6000)).save(out, "PNG")
    with pytest.raises(PreviewError, match=r"too large to preview \(6000x6000\), open the link"):
        image_preview_sync(out.getvalue())
