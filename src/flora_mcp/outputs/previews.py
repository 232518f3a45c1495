"""Previews a model can look at: a downscaled JPEG of an image, a contact sheet of a video.

A preview is an MCP `image` content block small enough to sit in a tool result: its long side
is at most 768 px and it is at most 150 KB, and callers add at most four to one result (see
`PreviewBudget`), so a result stays well under the ~1 MiB clients accept. Images are decoded
with Pillow; video frames with PyAV, which is the optional extra `flora-mcp[video]`. Both run
in a worker thread, since decoding is CPU work that must not stall the event loop. Pillow is
imported on the first preview, not with the module: a server start never pays for it.

Decoding is bounded before it starts, since a small file can hold a huge picture (a 250 KB PNG
of 8000x8000 decodes to 256 MB): the size is read from the header, a JPEG is decoded at a
reduced scale (`draft`), and anything that would still decode to more than MAX_DECODED_PIXELS
(or a video frame over MAX_VIDEO_PIXELS) is refused unread. At most DECODES_AT_ONCE decodes run
at a time in the whole process, so parallel reads queue instead of adding up their memory.

Everything here raises `PreviewError` with a one-line reason when a preview cannot be made;
the caller keeps the link and shows the reason instead.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
from anyio.lowlevel import RunVar
from mcp_types import ImageContent

if TYPE_CHECKING:
    from PIL import Image

MAX_SIDE = 768
MAX_PREVIEW_BYTES = 150_000
MAX_PREVIEWS = 4
MAX_TOTAL_BYTES = 600_000  # of all previews in one result, before base64 (which adds a third)
# Pixels one decode may produce (after a JPEG's draft scaling). At 4 bytes a pixel and a copy on
# the way down that is ~200 MB per decode, ~400 MB with DECODES_AT_ONCE; FLORA's images (up to
# 4096x4096) fit well, an 8000x8000 upscale does not and keeps its link.
MAX_DECODED_PIXELS = 25_000_000
MAX_VIDEO_PIXELS = 3840 * 2160  # per frame: the decoder holds several reference frames at once
DECODES_AT_ONCE = 2
SHEET_FRAMES = 4
_QUALITIES = (85, 70, 55, 40)


class PreviewError(Exception):
    """A preview could not be made; the message is the one line the result shows instead."""


@dataclass(frozen=True)
class Preview:
    block: ImageContent
    width: int
    height: int
    size: int  # bytes of the encoded JPEG

    def describe(self) -> str:
        return f"{self.width}x{self.height} JPEG, {self.size / 1000:.1f} KB"


@dataclass
class PreviewBudget:
    """What one result may still carry: a number of previews and a total of bytes."""

    previews: int = MAX_PREVIEWS
    total_bytes: int = MAX_TOTAL_BYTES

    def refusal(self) -> str | None:
        """Why no further preview fits, or None when one does."""
        if self.previews <= 0:
            return f"only {MAX_PREVIEWS} previews are shown in one result"
        if self.total_bytes < 8_000:
            return "this result already carries its share of preview bytes"
        return None

    def cap(self) -> int:
        return min(MAX_PREVIEW_BYTES, self.total_bytes)

    def spend(self, preview: Preview) -> None:
        self.previews -= 1
        self.total_bytes -= preview.size


# One limiter per event loop (a RunVar), shared by every service in the process on that loop.
_DECODES: RunVar[anyio.CapacityLimiter] = RunVar("flora_mcp_preview_decodes")


def _decode_limiter() -> anyio.CapacityLimiter:
    try:
        return _DECODES.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(DECODES_AT_ONCE)
        _DECODES.set(limiter)
        return limiter


def _too_large(width: int, height: int) -> PreviewError:
    return PreviewError(f"too large to preview ({width}x{height}), open the link")


def _pixel_limit() -> int:
    """MAX_DECODED_PIXELS, or Pillow's own MAX_IMAGE_PIXELS when someone set it lower."""
    from PIL import Image

    pillows = Image.MAX_IMAGE_PIXELS
    return min(MAX_DECODED_PIXELS, pillows) if pillows else MAX_DECODED_PIXELS


def _encode(image: Image.Image, max_bytes: int) -> tuple[bytes, Image.Image]:
    """JPEG bytes of `image` within `max_bytes`: lower quality first, then a smaller size."""
    current = image
    while True:
        for quality in _QUALITIES:
            out = io.BytesIO()
            current.save(out, "JPEG", quality=quality, optimize=True)
            if out.tell() <= max_bytes:
                return out.getvalue(), current
        if max(current.size) <= 64:
            raise PreviewError("the image does not compress into a small enough preview")
        current = current.resize((max(1, current.width * 3 // 4), max(1, current.height * 3 // 4)))


def _flatten(image: Image.Image) -> Image.Image:
    """RGB, with any transparency composited on white (JPEG has no alpha)."""
    from PIL import Image

    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _preview_of(image: Image.Image, max_bytes: int) -> Preview:
    from PIL import Image

    # Shrink first, flatten after: the copies flattening makes are then of the small image.
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA" if image.mode == "P" and "transparency" in image.info else "RGB")
    image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS, reducing_gap=2.0)
    data, final = _encode(_flatten(image), max_bytes)
    block = ImageContent(type="image", data=base64.b64encode(data).decode("ascii"), mime_type="image/jpeg")
    return Preview(block=block, width=final.width, height=final.height, size=len(data))


def image_preview_sync(data: bytes, *, max_bytes: int = MAX_PREVIEW_BYTES) -> Preview:
    """A preview of an image file's bytes (any format Pillow reads); PreviewError if impossible.

    The size comes from the header (Image.open decodes nothing); a JPEG is then set to decode
    at the smallest scale still at least MAX_SIDE, and the pixels that would be decoded are
    checked against the limit before a single one is.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            image.draft("RGB", (MAX_SIDE, MAX_SIDE))
            if image.width * image.height > _pixel_limit():
                raise _too_large(width, height)
            image.load()
            return _preview_of(image, max_bytes)
    except UnidentifiedImageError:
        raise PreviewError("the file is not an image Pillow can read") from None
    except Image.DecompressionBombError:
        # Pillow's own check in Image.open, for pictures far over any limit of ours.
        raise PreviewError("too large to preview, open the link") from None
    except (OSError, ValueError) as exc:
        raise PreviewError(f"the image could not be decoded ({exc})") from None


def video_available() -> bool:
    """Whether PyAV (the `video` extra) is installed."""
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


def contact_sheet_sync(data: bytes, *, frames: int = SHEET_FRAMES, max_bytes: int = MAX_PREVIEW_BYTES) -> Preview:
    """A preview of a video: `frames` frames spread over its length, side by side in a grid."""
    try:
        import av
    except ImportError:
        raise PreviewError("video previews need the video extra: pip install 'flora-mcp[video]'") from None
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.video:
                raise PreviewError("the video file has no video track to take frames from")
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            if width * height > MAX_VIDEO_PIXELS:
                raise _too_large(width, height)
            stills = _frames(container, stream, frames)
    except PreviewError:
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise PreviewError(f"the video could not be decoded ({type(exc).__name__})") from None
    if not stills:
        raise PreviewError("the video has no decodable frames")
    return _preview_of(_grid(stills), max_bytes)


def _frames(container: object, stream: object, wanted: int) -> list[Image.Image]:
    """Up to `wanted` frames, evenly spaced by decode order (seeking is unreliable on short clips)."""
    import av

    assert isinstance(container, av.container.InputContainer)
    assert isinstance(stream, av.VideoStream)
    total = stream.frames or 0
    if total <= 0:
        return _sampled(container.decode(stream), wanted)
    picks = {round(i * (total - 1) / max(1, wanted - 1)) for i in range(wanted)} if wanted > 1 else {0}
    decoded: list[Image.Image] = []
    for index, frame in enumerate(container.decode(stream)):
        if index in picks:
            decoded.append(_still(frame))
        if index >= max(picks):
            break
    return decoded


def _still(frame: object) -> Image.Image:
    import av

    assert isinstance(frame, av.VideoFrame)
    image = frame.to_image()
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    return image


def _sampled(frames: Iterator[object], wanted: int, limit: int = 240) -> list[Image.Image]:
    """`wanted` frames spread over the first `limit` of a stream of unknown length.

    Every `step`-th frame is kept, and when more than 2*wanted are kept every other one is
    dropped and `step` doubles: memory holds at most 2*wanted small stills, never the stream.
    """
    kept: list[Image.Image] = []
    step = 1
    for index, frame in enumerate(frames):
        if index >= limit:
            break
        if index % step:
            continue
        kept.append(_still(frame))
        if len(kept) > 2 * wanted:
            kept, step = kept[::2], step * 2
    spacing = max(1, len(kept) // wanted)
    return kept[::spacing][:wanted]


def _grid(stills: list[Image.Image]) -> Image.Image:
    """The frames in a grid of two columns (one row for two frames or fewer), 4 px gaps."""
    from PIL import Image

    columns = 1 if len(stills) == 1 else 2
    rows = -(-len(stills) // columns)
    width = max(s.width for s in stills)
    height = max(s.height for s in stills)
    gap = 4
    sheet = Image.new("RGB", (columns * width + (columns - 1) * gap, rows * height + (rows - 1) * gap), (0, 0, 0))
    for index, still in enumerate(stills):
        row, column = divmod(index, columns)
        sheet.paste(still.convert("RGB"), (column * (width + gap), row * (height + gap)))
    return sheet


async def image_preview(data: bytes, *, max_bytes: int = MAX_PREVIEW_BYTES) -> Preview:
    """image_preview_sync in a worker thread, one of at most DECODES_AT_ONCE."""
    limiter = _decode_limiter()
    return await anyio.to_thread.run_sync(lambda: image_preview_sync(data, max_bytes=max_bytes), limiter=limiter)


async def contact_sheet(data: bytes, *, max_bytes: int = MAX_PREVIEW_BYTES) -> Preview:
    """contact_sheet_sync in a worker thread, one of at most DECODES_AT_ONCE."""
    limiter = _decode_limiter()
    return await anyio.to_thread.run_sync(lambda: contact_sheet_sync(data, max_bytes=max_bytes), limiter=limiter)
