"""The asset routes: input media reaching FLORA by a direct upload, a URL FLORA fetches, or a signed upload.

    POST /assets                 multipart (file + workspace_id, at most 4 MB): ready at once
                                 JSON {source: https URL}: "fetched" at once (nothing is fetched here)
                                 JSON {source: "signed-url"}: a reservation, pending_upload
    POST /assets/{id}/complete   after the bytes went to the reservation's upload URL: ready
    POST /assets/{id}/retry      a fresh reservation for a failed or expired one
    GET  /assets/{id}, GET /assets (workspace_id, cursor, limit)

The reservation's upload URLs (a form POST, or a raw PUT) are served outside the API, keyless
like a signed URL, and an asset's bytes under /media/assets/, the sandbox's own media origin, so
an uploaded asset's URL is a "FLORA host" URL a run can read. Assets live in SandboxState.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from flora_mcp.sandbox.access import admit, origin
from flora_mcp.sandbox.errors import ApiError, not_found, validation_error
from flora_mcp.sandbox.render import api_route
from flora_mcp.sandbox.validation import (
    Fields,
    encode_cursor,
    parse_cursor,
    parse_json_object,
    parse_limit,
    require_workspace,
)

if TYPE_CHECKING:
    from flora_mcp.sandbox.app import Sandbox

DIRECT_MAX_BYTES = 4 * 1024 * 1024
SIGNED_MAX_BYTES = 500 * 1024 * 1024
RESERVATION_SECONDS = 15 * 60
MAX_ASSETS = 1_000  # past this the route refuses, so a long-lived sandbox stays small
ALLOWED_TYPES = frozenset(
    {
        *(f"image/{t}" for t in ("jpeg", "png", "webp", "gif", "avif", "heic", "heif")),
        *(f"video/{t}" for t in ("mp4", "webm", "quicktime")),
        *(f"audio/{t}" for t in ("mpeg", "wav", "ogg")),
        "application/pdf",
    }
)


@dataclass
class Asset:
    asset_id: str
    seq: int
    workspace_id: str
    project_id: str | None
    file_name: str
    content_type: str
    uploaded_via: str  # url, signed_url or direct
    status: str = "pending_upload"
    data: bytes = b""
    source_url: str | None = None
    upload_token: str | None = None
    expires_at: float | None = None

    def to_json(self, base: str) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "asset_id": self.asset_id,
            "status": self.status,
            "uploaded_via": self.uploaded_via,
            "url": self.source_url or f"{base}/media/assets/{self.asset_id}/{self.file_name}",
            "visibility": "workspace",
            "workspace_id": self.workspace_id,
            "file_name": self.file_name,
            "content_type": self.content_type,
            "size_bytes": len(self.data) if self.status == "ready" and self.source_url is None else None,
        }
        if self.status == "pending_upload" and self.upload_token:
            answer["expires_at"] = self.expires_at
            answer["upload"] = {
                "method": "POST",
                "url": f"{base}/_uploads/{self.upload_token}",
                "content_type": "multipart/form-data",
                "file_field": "file",
                "form_fields": {"key": self.upload_token, "policy": "sandbox"},
            }
            answer["upload_url"] = f"{base}/_uploads/{self.upload_token}"
        return answer


def _content_type(value: object, fields: Fields) -> str:
    if not isinstance(value, str) or value.split(";")[0].strip().lower() not in ALLOWED_TYPES:
        fields.append(("content_type", f"Unsupported type; allowed: {', '.join(sorted(ALLOWED_TYPES))}"))
        return ""
    return value.split(";")[0].strip().lower()


class AssetRoutes:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sb = sandbox

    def routes(self) -> list[Route]:
        return [
            api_route("POST", "/assets", self.create),
            api_route("GET", "/assets", self.listing),
            api_route("GET", "/assets/{asset_id}", self.get),
            api_route("POST", "/assets/{asset_id}/complete", self.complete),
            api_route("POST", "/assets/{asset_id}/retry", self.retry),
            Route("/_uploads/{token}", self.upload, methods=["POST", "PUT"], name="UPLOAD /_uploads/{token}"),
            Route("/media/assets/{asset_id}/{filename}", self.media, methods=["GET"], name="GET /media/assets"),
        ]

    @property
    def _assets(self) -> dict[str, Asset]:
        return self.sb.state.assets

    def _find(self, request: Request) -> Asset:
        asset = self._assets.get(request.path_params["asset_id"])
        if asset is None:
            raise not_found("Asset not found.")
        return asset

    def _new(self, workspace_id: str, project_id: str | None, file_name: str, content_type: str, via: str) -> Asset:
        if len(self._assets) >= MAX_ASSETS:
            raise ApiError(400, "input_validation_error", f"This sandbox holds at most {MAX_ASSETS} assets.")
        asset = Asset(
            "asset_" + secrets.token_hex(8),
            self.sb.state.next_seq(),
            workspace_id,
            project_id,
            file_name,
            content_type,
            via,
        )
        self._assets[asset.asset_id] = asset
        return asset

    def _reserve(self, asset: Asset, now: float) -> None:
        asset.status = "pending_upload"
        asset.upload_token = secrets.token_urlsafe(16)
        asset.expires_at = now + RESERVATION_SECONDS

    async def create(self, request: Request) -> JSONResponse:
        now = admit(request, self.sb)
        state = self.sb.state
        key = request.headers.get("idempotency-key") or None
        if key and state.header_key_seen(key, now):
            raise ApiError(
                409,
                "idempotency_duplicate",
                "Duplicate idempotency key: a request with this Idempotency-Key was already accepted.",
            )
        fields: Fields = []
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            asset = await self._direct(request, fields)
        else:
            asset = self._json(parse_json_object(await request.body()), fields, now)
        state.remember_header_key(key, now, asset.asset_id)
        return JSONResponse(asset.to_json(origin(request)), status_code=201)

    async def _direct(self, request: Request, fields: Fields) -> Asset:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > DIRECT_MAX_BYTES + 64 * 1024:
            raise ApiError(413, "payload_too_large", "A direct upload is at most 4 MB; use source signed-url.")
        form = await request.form(max_part_size=DIRECT_MAX_BYTES + 1)
        upload = form.get("file")
        workspace_id = form.get("workspace_id")
        if not isinstance(workspace_id, str) or not workspace_id:
            fields.append(("workspace_id", "Required"))
        if upload is None or isinstance(upload, str):
            fields.append(("file", "Required"))
        if fields:
            raise validation_error(fields)
        assert isinstance(workspace_id, str) and upload is not None and not isinstance(upload, str)
        data = await upload.read()
        if len(data) > DIRECT_MAX_BYTES:
            raise ApiError(413, "payload_too_large", "A direct upload is at most 4 MB; use source signed-url.")
        content_type = _content_type(form.get("content_type") or upload.content_type, fields)
        if fields:
            raise validation_error(fields)
        require_workspace(workspace_id)
        project_id = form.get("project_id")
        name = form.get("file_name") or upload.filename or "upload"
        asset = self._new(
            workspace_id, project_id if isinstance(project_id, str) else None, str(name), content_type, "direct"
        )
        asset.data, asset.status = data, "ready"
        return asset

    def _json(self, body: dict[str, Any], fields: Fields, now: float) -> Asset:
        workspace_id, source = body.get("workspace_id"), body.get("source")
        if not isinstance(workspace_id, str) or not workspace_id:
            fields.append(("workspace_id", "Required"))
        if not isinstance(source, str) or not (source == "signed-url" or source.startswith("https://")):
            fields.append(("source", 'Expected a public https:// URL or "signed-url"'))
        file_name = body.get("file_name") if isinstance(body.get("file_name"), str) else None
        content_type = _content_type(body.get("content_type"), fields) if "content_type" in body else ""
        if fields:
            raise validation_error(fields)
        assert isinstance(workspace_id, str) and isinstance(source, str)
        require_workspace(workspace_id)
        project_id = body.get("project_id") if isinstance(body.get("project_id"), str) else None
        if source == "signed-url":
            asset = self._new(workspace_id, project_id, file_name or "upload", content_type, "signed_url")
            self._reserve(asset, now)
            return asset
        # FLORA fetches the URL; the sandbox fetches nothing and answers it ready, at its own address.
        name = file_name or source.rstrip("/").rpartition("/")[2] or "fetched"
        asset = self._new(workspace_id, project_id, name, content_type or "image/png", "url")
        asset.source_url, asset.status = source, "ready"
        return asset

    async def upload(self, request: Request) -> Response:
        """The reservation's upload URL: a form (fields, then the file last) or raw bytes; no key, like a signed URL."""
        token = request.path_params["token"]
        asset = next((a for a in self._assets.values() if a.upload_token == token), None)
        if asset is None or asset.expires_at is None or self.sb.clock() >= asset.expires_at:
            raise ApiError(403, "forbidden", "The upload URL is unknown or expired.")
        if request.method == "PUT":
            data = await request.body()
        else:
            form = await request.form(max_part_size=SIGNED_MAX_BYTES)
            part = form.get("file")
            if part is None or isinstance(part, str) or form.get("key") != token:
                raise ApiError(400, "input_validation_error", "The form needs its key field and a file part, last.")
            if not asset.content_type and part.content_type:
                asset.content_type = part.content_type
            data = await part.read()
        if len(data) > SIGNED_MAX_BYTES:
            raise ApiError(413, "payload_too_large", "Too large.")
        asset.data = data
        return Response(status_code=204)

    async def complete(self, request: Request) -> JSONResponse:
        admit(request, self.sb)
        asset = self._find(request)
        if asset.status == "pending_upload":
            if not asset.data:
                raise ApiError(400, "input_validation_error", "Nothing was uploaded to this asset's upload URL.")
            asset.status, asset.upload_token = "ready", None
            if not asset.content_type:
                asset.content_type = "application/octet-stream"
        return JSONResponse(asset.to_json(origin(request)))

    async def retry(self, request: Request) -> JSONResponse:
        now = admit(request, self.sb)
        asset = self._find(request)
        if asset.status == "ready":
            raise ApiError(409, "conflict", "The asset is already ready.")
        asset.data = b""
        self._reserve(asset, now)
        return JSONResponse(asset.to_json(origin(request)))

    async def get(self, request: Request) -> JSONResponse:
        admit(request, self.sb)
        return JSONResponse(self._find(request).to_json(origin(request)))

    async def listing(self, request: Request) -> JSONResponse:
        admit(request, self.sb)
        query = dict(request.query_params)
        fields: Fields = []
        limit = parse_limit(query, fields)
        after = parse_cursor(query, fields)
        workspace_id = query.get("workspace_id")
        if not workspace_id:
            fields.append(("workspace_id", "Required"))
        if fields:
            raise validation_error(fields)
        assert workspace_id is not None
        require_workspace(workspace_id)
        mine = sorted(
            (a for a in self._assets.values() if a.workspace_id == workspace_id and (after is None or a.seq < after)),
            key=lambda a: -a.seq,
        )
        page = mine[:limit]
        more = len(mine) > limit
        base = origin(request)
        return JSONResponse(
            {
                "assets": [a.to_json(base) for a in page],
                "meta": {"next_cursor": encode_cursor(page[-1].seq) if more else None},
            }
        )

    async def media(self, request: Request) -> Response:
        asset = self._assets.get(request.path_params["asset_id"])
        if (
            asset is None
            or asset.status != "ready"
            or asset.source_url
            or asset.file_name != request.path_params["filename"]
        ):
            raise not_found("No such media.")
        return Response(asset.data, media_type=asset.content_type)
