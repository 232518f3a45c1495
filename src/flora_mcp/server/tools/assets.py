"""The assets family: upload_asset, so a local file, a chat attachment or a file on another site reaches FLORA.

Runs read media only from FLORA's hosts, so input media is uploaded first and its asset URL
passed on. Three sources: a local `path` (stdio only, and only inside FLORA_INPUT_DIRS, real
paths compared, so a symlink out is refused), a public https `url` (FLORA fetches it), or
base64 `data` (small). Files up to 4 MB go as one multipart POST; larger ones by FLORA's
signed upload, streamed in chunks, with progress notifications when the client asked for them.

Repeats: the same bytes into the same workspace by the same caller upload once. This process
remembers (caller, workspace, sha256) -> asset (AppState.uploads), and every upload sends an
Idempotency-Key derived from the same three, so FLORA itself refuses a re-send after a restart
(then the asset is looked up by that key's asset... not known here: the answer says so).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field

from flora_mcp.api.assets import ALLOWED_TYPES, DIRECT_MAX_BYTES, Asset, AssetsAPI, Payload, guess_type
from flora_mcp.api.errors import IdempotencyDuplicateError
from flora_mcp.api.models import ProjectId, RequestModel, WorkspaceId
from flora_mcp.runs.following import NextStep
from flora_mcp.server.context import served_over_http, state_of
from flora_mcp.server.errors import flora_errors
from flora_mcp.server.results import Result, tool_result
from flora_mcp.server.tools.registry import ToolSpec
from flora_mcp.untrusted import one_line

TOOL = "upload_asset"
CHUNK = 256 * 1024
POLL_SECONDS = 1.0
READY_WITHIN_SECONDS = 120.0
# Small on purpose: base64 travels inside one MCP message, and a bigger file has `path` or `url`.
DATA_MAX_BYTES = 4 * 1024 * 1024

# Adds to FLORA, destroys nothing; a repeat is recognised by its content only, so not idempotent in MCP's sense.
CREATES = ToolAnnotations(destructive_hint=False)


class UploadAssetArguments(RequestModel):
    """upload_asset's arguments: where the asset goes, and exactly one source."""

    workspace_id: WorkspaceId
    project_id: ProjectId | None = Field(default=None, description="Also put it on this project's canvas.")
    path: str | None = Field(
        default=None, description="A local file in a folder the user allowed (--input-dir); stdio only."
    )
    url: str | None = Field(default=None, description="A public https URL; FLORA fetches it.")
    data: str | None = Field(default=None, description="Base64 bytes, at most 4 MB; needs file_name.")
    file_name: str | None = Field(default=None, max_length=200, description="Required with data.")


class AssetUploaded(Result):
    """What upload_asset answers: the asset, and its URL to pass as a run's input."""

    asset_id: str
    url: str = Field(description="Pass this as a run's input: params.image_url, a technique input, ...")
    content_type: str | None = None
    size_bytes: int | None = None
    uploaded_via: str | None = None
    outcome: str = Field(description='"uploaded", or "uploaded_earlier" when these bytes were already uploaded.')
    next: NextStep


def _refuse(text: str, next_step: str, *, sent: bool = False) -> ToolError:
    """A refusal that says what went wrong, whether anything reached FLORA, and the one next step."""
    outcome = "" if sent else " Nothing was sent to FLORA."
    return ToolError(f"upload_asset: {text}.{outcome}\nNext step: {next_step}")


_FIX_INPUT = "call upload_asset again with exactly one of path, url or data (data with file_name)"
_FIX_TYPE = "convert the file to one of those types, then call upload_asset again"


def _allowed_text() -> str:
    return "FLORA accepts " + ", ".join(ALLOWED_TYPES)


def _local_file(ctx: Context[Any], raw: str) -> Path:
    """The real path of `raw` when it lies inside an allowed folder; refused otherwise, before anything is read."""
    if served_over_http(ctx):
        raise _refuse(
            "a local path cannot be uploaded over HTTP (the file would be the server's, not yours)",
            "send the file as base64 data with file_name, or give a public https url",
        )
    allowed = state_of(ctx).input_dirs
    if not allowed:
        raise _refuse(
            "no folder is allowed for local files",
            "tell the user: they can start flora-mcp with --input-dir DIR (FLORA_INPUT_DIRS); or send data or a url",
        )
    real = Path(raw).expanduser().resolve()  # follows every symlink: what is compared is where the bytes are
    if not any(real.is_relative_to(folder) for folder in allowed):
        folders = ", ".join(str(f) for f in allowed)
        raise _refuse(f"{raw} is outside the allowed folders ({folders})", "give a file inside them, or send data")
    if not real.is_file():
        raise _refuse(f"{raw} is not a file", "give the path of a file inside the allowed folders")
    return real


def _file_payload(real: Path, file_name: str, content_type: str, size: int) -> Payload:
    async def chunks() -> AsyncIterator[bytes]:
        async with await anyio.open_file(real, "rb") as handle:
            while chunk := await handle.read(CHUNK):
                yield chunk

    return Payload(file_name, content_type, size, chunks)


def _bytes_payload(data: bytes, file_name: str, content_type: str) -> Payload:
    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), CHUNK):
            yield data[start : start + CHUNK]

    return Payload(file_name, content_type, len(data), chunks)


def _with_progress(ctx: Context[Any], payload: Payload) -> Payload:
    """`payload`, reporting bytes sent as MCP progress when the client gave a progress token."""
    report = getattr(ctx, "report_progress", None)
    if report is None:
        return payload

    async def chunks() -> AsyncIterator[bytes]:
        sent = 0
        async for chunk in payload.chunks():
            yield chunk
            sent += len(chunk)
            await report(sent, payload.size, f"uploaded {sent} of {payload.size} bytes")

    return Payload(payload.file_name, payload.content_type, payload.size, chunks)


async def _digest(payload: Payload) -> str:
    sha = hashlib.sha256()
    async for chunk in payload.chunks():
        sha.update(chunk)
    return sha.hexdigest()


async def _payload(ctx: Context[Any], args: UploadAssetArguments) -> Payload:
    if args.path is not None:
        real = _local_file(ctx, args.path)
        with real.open("rb") as handle:
            head = handle.read(32)
        name = args.file_name or real.name
        kind = guess_type(name, head)
        if kind is None:
            raise _refuse(f"cannot tell the type of {name}; {_allowed_text()}", _FIX_TYPE)
        return _file_payload(real, name, kind, real.stat().st_size)
    assert args.data is not None
    if not args.file_name:
        raise _refuse("data needs file_name", "call upload_asset again with file_name (e.g. photo.png)")
    if len(args.data) > DATA_MAX_BYTES * 4 // 3 + 4:
        raise _refuse("data is larger than 4 MB", "give a local path (with --input-dir) or a public https url instead")
    try:
        raw = base64.b64decode(args.data, validate=True)
    except (binascii.Error, ValueError):
        raise _refuse("data is not valid base64", "send the file's bytes base64-encoded (standard alphabet)") from None
    if len(raw) > DATA_MAX_BYTES:
        raise _refuse("data is larger than 4 MB", "give a local path (with --input-dir) or a public https url instead")
    kind = guess_type(args.file_name, raw[:32])
    if kind is None:
        raise _refuse(f"cannot tell the type of {args.file_name}; {_allowed_text()}", _FIX_TYPE)
    return _bytes_payload(raw, args.file_name, kind)


async def _until_ready(ctx: Context[Any], api: AssetsAPI, asset: Asset) -> Asset:
    state = state_of(ctx)
    waited = 0.0
    while asset.status != "ready":
        if asset.status == "failed":
            reason = one_line(asset.failure_message or "failed", 300)
            raise _refuse(
                f"FLORA could not take asset {asset.asset_id}: {reason}",
                "check the file or URL, then call upload_asset again",
                sent=True,
            )
        if waited >= READY_WITHIN_SECONDS:
            raise _refuse(
                f"asset {asset.asset_id} was not ready within {READY_WITHIN_SECONDS:g} s",
                "call upload_asset again with the same arguments in a minute: it is not uploaded twice",
                sent=True,
            )
        await state.sleep(POLL_SECONDS)
        waited += POLL_SECONDS
        asset = await api.get(asset.asset_id)
    return asset


async def _signed(api: AssetsAPI, payload: Payload, args: UploadAssetArguments, key: str) -> Asset:
    body: dict[str, Any] = {
        "source": "signed-url",
        "workspace_id": args.workspace_id,
        "file_name": payload.file_name,
        "content_type": payload.content_type,
    }
    if args.project_id:
        body["project_id"] = args.project_id
    reservation = await api.create(body, idempotency_key=key)
    try:
        await api.send_to_reservation(reservation, payload)
    except IdempotencyDuplicateError:
        raise
    except Exception:
        # An expired or refused reservation: FLORA makes a fresh one on retry; send once more.
        reservation = await api.retry(reservation.asset_id)
        await api.send_to_reservation(reservation, payload)
    return await api.complete(reservation.asset_id)


async def upload_asset(ctx: Context[Any], args: UploadAssetArguments) -> CallToolResult:
    sources = [s for s in (args.path, args.url, args.data) if s is not None]
    if len(sources) != 1:
        raise _refuse("give exactly one of path, url or data", _FIX_INPUT)
    state = state_of(ctx)
    caller = state.caller(ctx)
    api = AssetsAPI(caller.client)
    if args.url is not None:
        if not args.url.startswith("https://"):
            raise _refuse("url must be a public https:// URL", "give an https URL, or send the file as data")
        kind = guess_type(args.file_name or args.url.split("?")[0], b"")
        if kind is None and args.file_name:
            raise _refuse(f"cannot tell the type of {args.file_name}; {_allowed_text()}", _FIX_TYPE)
        digest = hashlib.sha256(args.url.encode()).hexdigest()
        payload: Payload | None = None
    else:
        payload = await _payload(ctx, args)
        if payload.content_type not in ALLOWED_TYPES:
            raise _refuse(f"{payload.file_name} is {payload.content_type}; {_allowed_text()}", _FIX_TYPE)
        digest = await _digest(payload)
    memo = (caller.fingerprint, args.workspace_id, digest)
    key = "flora-mcp-asset-" + hashlib.sha256("|".join(memo).encode()).hexdigest()[:40]
    known = state.uploads.get(memo)
    if known is not None:
        asset_id, url = known
        return _answer(Asset(asset_id=asset_id, status="ready", url=url), "uploaded_earlier")
    async with flora_errors(TOOL, key):
        try:
            if payload is None:
                body: dict[str, Any] = {"source": args.url, "workspace_id": args.workspace_id}
                if args.project_id:
                    body["project_id"] = args.project_id
                if args.file_name:
                    body["file_name"] = args.file_name
                asset = await api.create(body, idempotency_key=key)
            elif payload.size <= DIRECT_MAX_BYTES:
                asset = await api.direct(payload, args.workspace_id, project_id=args.project_id, idempotency_key=key)
            else:
                asset = await _signed(api, _with_progress(ctx, payload), args, key)
        except IdempotencyDuplicateError as err:
            if err.code != "idempotency_duplicate":
                raise
            raise _refuse(
                f"these bytes were already uploaded to {args.workspace_id} (idempotency key {key}) by an earlier "
                "process",
                "find the asset in FLORA's asset list rather than uploading again",
                sent=True,
            ) from None
        asset = await _until_ready(ctx, api, asset)
    if not asset.url:
        raise _refuse(
            f"FLORA answered asset {asset.asset_id} ready without a URL",
            "call upload_asset again in a minute",
            sent=True,
        )
    state.uploads[memo] = (asset.asset_id, asset.url)
    return _answer(asset, "uploaded")


def _answer(asset: Asset, outcome: str) -> CallToolResult:
    assert asset.url is not None
    step = NextStep(
        tool="start_generation_run",
        arguments={"params": {"image_url": asset.url}} if (asset.content_type or "image/").startswith("image/") else {},
        after_seconds=0,
    )
    result = AssetUploaded(
        asset_id=asset.asset_id,
        url=asset.url,
        content_type=asset.content_type,
        size_bytes=asset.size_bytes,
        uploaded_via=asset.uploaded_via,
        outcome=outcome,
        next=step,
    )
    earlier = " (these bytes were uploaded earlier; nothing was sent again)" if outcome == "uploaded_earlier" else ""
    lines = [
        f"Asset {asset.asset_id} is ready{earlier}: {asset.url}",
        "Pass this URL as a run's input: params.image_url (or image_urls) of a start, or a technique's media input.",
    ]
    return tool_result(result, "\n".join(lines))


SPECS = [
    ToolSpec(
        name=TOOL,
        title="Upload an input file",
        description=(
            "Upload an image, video, audio or PDF for runs to use (they read media only from FLORA's hosts). "
            "Give one of path, url or data. Answers the url to pass as params.image_url or an input. Free; "
            "the same file twice uploads once."
        ),
        arguments=UploadAssetArguments,
        output=AssetUploaded,
        annotations=CREATES,
        body=upload_asset,
    ),
]
