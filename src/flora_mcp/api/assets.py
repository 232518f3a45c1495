"""FLORA's asset routes: input media uploaded directly, fetched by FLORA from a URL, or sent to a signed URL.

Bodies are streamed: a `Payload` hands out its bytes in chunks as many times as asked (once to
hash them, once per attempt to send them), so a large file is never held whole in memory. The
multipart forms are built here as streams of parts, with their exact Content-Length, because a
signed upload form (S3-style) refuses a chunked body.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from flora_mcp.api.models import ResponseModel
from flora_mcp.api.urls import path_segment

if TYPE_CHECKING:
    from flora_mcp.api.client import FloraClient

DIRECT_MAX_BYTES = 4 * 1024 * 1024
ALLOWED_TYPES = (
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/gif",
    "image/avif",
    "image/heic",
    "image/heif",
    "video/mp4",
    "video/webm",
    "video/quicktime",
    "audio/mpeg",
    "audio/wav",
    "audio/ogg",
    "application/pdf",
)
_BY_EXTENSION = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "gif": "image/gif",
    "avif": "image/avif",
    "heic": "image/heic",
    "heif": "image/heif",
    "mp4": "video/mp4",
    "m4v": "video/mp4",
    "webm": "video/webm",
    "mov": "video/quicktime",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "ogg": "audio/ogg",
    "oga": "audio/ogg",
    "pdf": "application/pdf",
}


def sniff_type(head: bytes) -> str | None:
    """The type the first bytes of a file declare (magic numbers), or None when they say nothing known."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "image/avif"
        if brand in (b"heic", b"heix", b"heim", b"heis"):
            return "image/heic"
        if brand in (b"mif1", b"msf1"):
            return "image/heif"
        if brand == b"qt  ":
            return "video/quicktime"
        return "video/mp4"
    return None


def guess_type(file_name: str, head: bytes) -> str | None:
    """The file's type: what its bytes say first (a name can lie), else its extension; None if neither knows."""
    sniffed = sniff_type(head)
    if sniffed is not None:
        return sniffed
    return _BY_EXTENSION.get(file_name.rpartition(".")[2].lower()) if "." in file_name else None


@dataclass(frozen=True)
class Payload:
    """Bytes to upload, readable in chunks again and again; `chunks()` calls `progress(sent)` as it goes."""

    file_name: str
    content_type: str
    size: int
    chunks: Callable[[], AsyncIterator[bytes]]


class SignedUpload(ResponseModel):
    method: str = "POST"
    url: str
    content_type: str | None = None
    file_field: str = "file"
    form_fields: dict[str, Any] = {}


class Asset(ResponseModel):
    """An asset as FLORA answers it."""

    asset_id: str
    status: Literal["pending_upload", "ready", "failed"] | str
    uploaded_via: str | None = None
    url: str | None = None
    workspace_id: str | None = None
    content_type: str | None = None
    size_bytes: int | None = None
    expires_at: Any = None
    upload: SignedUpload | None = None
    upload_url: str | None = None
    failure_message: str | None = None


def _form_part(boundary: str, name: str, value: str) -> bytes:
    return f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()


def multipart(
    fields: dict[str, str], file_field: str, payload: Payload
) -> tuple[dict[str, str], Callable[[], AsyncIterator[bytes]]]:
    """A multipart/form-data body as (headers, stream factory): the fields first, the file part last."""
    boundary = "flora-mcp-" + secrets.token_hex(12)
    quoted = payload.file_name.replace('"', "%22").replace("\r", "").replace("\n", "")
    head = b"".join(_form_part(boundary, k, v) for k, v in fields.items())
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{quoted}"\r\n'
        f"Content-Type: {payload.content_type}\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    async def stream() -> AsyncIterator[bytes]:
        yield head
        async for chunk in payload.chunks():
            yield chunk
        yield tail

    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(len(head) + payload.size + len(tail)),
    }
    return headers, stream


class AssetsAPI:
    """POST /assets (three flows), complete, retry, GET /assets/{id}; over a FloraClient's transport."""

    def __init__(self, client: FloraClient) -> None:
        # The same package's client: its transport (key, retries, redaction) and base URL.
        self._client = client
        self._transport = client._transport
        self._base = client.base_url

    async def _json(self, answer_route: str, answer: Any) -> Asset:
        return self._client._parse(answer, Asset, answer_route)

    async def direct(
        self, payload: Payload, workspace_id: str, *, project_id: str | None, idempotency_key: str | None
    ) -> Asset:
        """POST /assets as multipart with the file (at most 4 MB): ready at once."""
        fields = {"workspace_id": workspace_id, "file_name": payload.file_name, "content_type": payload.content_type}
        if project_id:
            fields["project_id"] = project_id
        headers, body = multipart(fields, "file", payload)
        route = "POST /assets"
        answer = await self._transport.request(
            "POST", route, self._base + "/assets", body=body, body_headers=headers, idempotency_key=idempotency_key
        )
        return await self._json(route, answer)

    async def create(self, body: dict[str, Any], *, idempotency_key: str | None) -> Asset:
        """POST /assets with JSON: {source: https URL} (FLORA fetches it) or {source: "signed-url"} (a reservation)."""
        route = "POST /assets"
        answer = await self._transport.request(
            "POST", route, self._base + "/assets", json_body=body, idempotency_key=idempotency_key
        )
        return await self._json(route, answer)

    async def send_to_reservation(self, asset: Asset, payload: Payload) -> None:
        """The bytes to a reservation's upload: the form (fields, then the file), else a PUT of raw bytes.

        No API key goes with them: the URL is signed, and may be a storage host's rather than FLORA's.
        """
        if asset.upload is not None:
            fields = {str(k): str(v) for k, v in asset.upload.form_fields.items()}
            headers, body = multipart(fields, asset.upload.file_field or "file", payload)
            url, method = asset.upload.url, (asset.upload.method or "POST").upper()
        elif asset.upload_url:
            headers = {"Content-Type": payload.content_type, "Content-Length": str(payload.size)}
            body, url, method = payload.chunks, asset.upload_url, "PUT"
        else:
            raise ValueError("FLORA's reservation named no upload URL")
        await self._transport.request(
            method, f"{method} signed upload URL", url, body=body, body_headers=headers, send_key=False
        )

    async def complete(self, asset_id: str) -> Asset:
        route = "POST /assets/{asset_id}/complete"
        url = f"{self._base}/assets/{path_segment(asset_id, 'asset id')}/complete"
        return await self._json(route, await self._transport.request("POST", route, url, json_body={}))

    async def retry(self, asset_id: str) -> Asset:
        route = "POST /assets/{asset_id}/retry"
        url = f"{self._base}/assets/{path_segment(asset_id, 'asset id')}/retry"
        return await self._json(route, await self._transport.request("POST", route, url, json_body={}))

    async def get(self, asset_id: str) -> Asset:
        route = "GET /assets/{asset_id}"
        url = f"{self._base}/assets/{path_segment(asset_id, 'asset id')}"
        return await self._json(route, await self._transport.request("GET", route, url))


__all__ = ["ALLOWED_TYPES", "DIRECT_MAX_BYTES", "Asset", "AssetsAPI", "BaseModel", "Payload", "guess_type"]
