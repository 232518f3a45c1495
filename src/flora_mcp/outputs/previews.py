"""Previews a model can look at: a downscaled JPEG of an image, a contact sheet of a video.

A preview is an MCP `image` content block small enough to sit in a tool result: its long side
is at most 768 px and it is at most 150 KB, and callers add at most four to one result (see
`PreviewBudget`), so a result stays well under the ~1 MiB clients accept. Images are decoded
with Pillow; video frames with PyAV, which is the optional extra `flora-mcp[video]`. Both run
in a worker thread, since decoding is CPU work that must not stall the event loop. Pillow is
imported on the first preview, not with the module: a server start never pays for it.

Everything here raises `PreviewError` with a one-line reason when a preview cannot be made;
the caller keeps the link and shows the reason instead.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
from mcp_types import ImageContent

if TYPE_CHECKING:
    from PIL import Image

MAX_SIDE = 768
MAX_PREVIEW_BYTES = 150_000
MAX_PREVIEWS = 4
MAX_TOTAL_BYTES = 600_000  # of all previews in one result, before base64 (which adds a third)
MAX_SOURCE_PIXELS = 64_000_000  # a larger image is refused rather than decoded (decompression bombs)
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

    image = _flatten(image)
    image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS, reducing_gap=2.0)
    data, final = _encode(image, max_bytes)
    block = ImageContent(type="image", data=base64.b64encode(data).decode("ascii"), mime_type="image/jpeg")
    return Preview(block=block, width=final.width, height=final.height, size=len(data))


def image_preview_sync(data: bytes, *, max_bytes: int = MAX_PREVIEW_BYTES) -> Preview:
    """A preview of an image file's bytes (any format Pillow reads); PreviewError if impossible."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_SOURCE_PIXELS:
                raise PreviewError(f"the image is {image.width}x{image.height}, too large to preview")
            # JPEG can decode straight at a fraction of its size: far less work for a big photo.
            image.draft("RGB", (MAX_SIDE, MAX_SIDE))
            image.load()
            return _preview_of(image, max_bytes)
    except UnidentifiedImageError:
        raise PreviewError("the file is not an image Pillow can read") from None
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
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
    decoded: list[Image.Image] = []
    if total <= 0:
        # No frame count in the header: keep the first frames of a capped decode.
        for index, frame in enumerate(container.decode(stream)):
            if index >= 240:
                break
            decoded.append(frame.to_image())
        step = max(1, len(decoded) // wanted)
        return decoded[::step][:wanted]
    picks = {round(i * (total - 1) / max(1, wanted - 1)) for i in range(wanted)} if wanted > 1 else {0}
    for index, frame in enumerate(container.decode(stream)):
        if index in picks:
            image = frame.to_image()
            image.thumbnail((MAX_SIDE, MAX_SIDE))
            decoded.append(image)
        if index >= max(picks):
            break
    return decoded


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
    return await anyio.to_thread.run_sync(lambda: image_preview_sync(data, max_bytes=max_bytes))


async def contact_sheet(data: bytes, *, max_bytes: int = MAX_PREVIEW_BYTES) -> Preview:
    return await anyio.to_thread.run_sync(lambda: contact_sheet_sync(data, max_bytes=max_bytes))
