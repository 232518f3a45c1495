"""Run outputs as MCP resources: `flora://runs/{run_id}/outputs/{output_id}`.

`resources/read` of such a URI answers the output's bytes with their MIME type (a text output
as text), fetched within the size cap; `resources/list` lists the caller's recent outputs.
Both are scoped to the caller through the RunIndex: a run the caller did not start or read
through this server is "not found", exactly like a run that does not exist, so a URI reveals
nothing about another caller's work.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote, unquote

from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp_types import Resource as MCPResource

from flora_mcp.api.client import FloraClient
from flora_mcp.api.errors import FloraError, NotFoundError
from flora_mcp.api.models import RunOutput
from flora_mcp.outputs.blocks import mime_type_for
from flora_mcp.outputs.fetch import FetchError
from flora_mcp.outputs.index import KnownRun
from flora_mcp.outputs.service import OutputService

OUTPUT_TEMPLATE = "flora://runs/{run_id}/outputs/{output_id}"
_PREFIX = "flora://runs/"
LISTED_RUNS = 50
TEMPLATE_DESCRIPTION = (
    "An output of one of your FLORA runs (its bytes, or the text of a text output). "
    "run_id and output_id are as wait_for_run or get_run return them."
)


def output_uri(run_id: str, output_id: str) -> str:
    """The resource URI of one output (each id percent-encoded as one path segment)."""
    return f"{_PREFIX}{quote(run_id, safe='')}/outputs/{quote(output_id, safe='')}"


def parse_output_uri(uri: str) -> tuple[str, str] | None:
    """(run_id, output_id) of an output URI, or None when `uri` is not one."""
    if not uri.startswith(_PREFIX):
        return None
    parts = uri[len(_PREFIX) :].split("/")
    if len(parts) != 3 or parts[1] != "outputs" or not parts[0] or not parts[2]:
        return None
    return unquote(parts[0]), unquote(parts[2])


def _not_found(uri: str, why: str) -> ResourceNotFoundError:
    return ResourceNotFoundError(f"{uri} was not found: {why}")


async def _outputs_of(service: OutputService, client: FloraClient, caller: str, known: KnownRun) -> list[RunOutput]:
    """The run's outputs: as last seen when it had completed, else read from FLORA again."""
    if known.status == "completed" and known.outputs:
        return list(known.outputs)
    if known.technique_id:
        run = await client.get_technique_run(known.technique_id, known.run_id)
    else:
        run = await client.get_run(known.run_id)
    await service.index.record(caller, KnownRun(run.run_id, known.technique_id, run.status, tuple(run.outputs or ())))
    return list(run.outputs or []) if run.status == "completed" else []


async def read_output(
    service: OutputService, client: FloraClient, caller: str, uri: str
) -> Iterable[ReadResourceContents]:
    """resources/read of an output URI for `caller`; ResourceNotFoundError / ResourceError otherwise."""
    ids = parse_output_uri(uri)
    if ids is None:
        raise _not_found(uri, "output URIs look like " + OUTPUT_TEMPLATE)
    run_id, output_id = ids
    known = await service.index.find(caller, run_id)
    if known is None:
        raise _not_found(uri, f"no run {run_id} among yours (runs you started or read through this server)")
    try:
        outputs = await _outputs_of(service, client, caller, known)
    except NotFoundError:
        raise _not_found(uri, f"FLORA has no run {run_id}") from None
    except FloraError as exc:
        raise ResourceError(f"{uri} could not be read: FLORA answered {exc}") from None
    output = next((o for o in outputs if o.output_id == output_id), None)
    if output is None or output.url is None:
        raise _not_found(uri, f"run {run_id} has no completed output {output_id}")
    if output.type == "text":
        return [ReadResourceContents(content=output.url, mime_type="text/plain")]
    try:
        fetched = await service.fetch(output.url)
    except FetchError as exc:
        raise ResourceError(f"{uri} could not be read: {exc}") from None
    return [ReadResourceContents(content=fetched.content, mime_type=_mime(output, fetched.content_type))]


def _mime(output: RunOutput, declared: str | None) -> str:
    """The media host's Content-Type when it is of the output's family, else the one from the URL."""
    fallback = mime_type_for(output)
    if declared:
        declared = declared.split(";", 1)[0].strip().lower()
        if declared.split("/", 1)[0] == fallback.split("/", 1)[0]:
            return declared
    return fallback


async def list_outputs(service: OutputService, caller: str) -> list[MCPResource]:
    """The caller's recent completed outputs, newest run first."""
    listed: list[MCPResource] = []
    for run in await service.index.runs_of(caller, LISTED_RUNS):
        if run.status != "completed":
            continue
        for output in run.outputs:
            text = output.type == "text"
            listed.append(
                MCPResource(
                    uri=output_uri(run.run_id, output.output_id),
                    name=f"{run.run_id}/{output.output_id}",
                    title=f"{'text' if text else output.type[:-3]} output {output.output_id} of run {run.run_id}",
                    mime_type="text/plain" if text else mime_type_for(output),
                )
            )
    return listed
