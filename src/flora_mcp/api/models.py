"""The shapes of FLORA's public API, as pydantic models.

One source of truth: the request models validate a tool's arguments, are the JSON Schema the
agent reads, and are the body or query the client sends. Their field descriptions are written
for a language model choosing arguments.

Requests are strict (closed enumerations, id prefixes, no unknown fields), so a bad argument is
refused before anything is sent. Responses are lenient (unknown fields kept, optional fields may
be null), so a new field in FLORA's answers never breaks a user. A start answer needs nothing
but `run_id`: refusing a start answer over a missing detail would report a run that is running,
and charging, as failed.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

# --- identifiers -------------------------------------------------------------------------------
# Ids travel in URL paths and queries, so their alphabet is closed: a value can never add a path
# segment, a query or a fragment to a request.
_ID_TAIL = r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}"

WorkspaceId = Annotated[
    str,
    StringConstraints(pattern=rf"^ws_{_ID_TAIL}$"),
    Field(
        description="Workspace id from list_workspaces; starts with ws_ (e.g. ws_abc123).",
        examples=["ws_abc123"],
    ),
]
ProjectId = Annotated[
    str,
    StringConstraints(pattern=rf"^prj_{_ID_TAIL}$"),
    Field(
        description="Project id from list_projects; starts with prj_ (e.g. prj_abc123).",
        examples=["prj_abc123"],
    ),
]
TechniqueId = Annotated[
    str,
    StringConstraints(pattern=rf"^tech_{_ID_TAIL}$"),
    Field(
        description="Technique id from list_techniques; starts with tech_ (e.g. tech_abcd1234).",
        examples=["tech_abcd1234"],
    ),
]
TechniqueRef = Annotated[
    str,
    StringConstraints(pattern=rf"^(tech_{_ID_TAIL}|[a-z0-9][a-z0-9-]{{0,127}})$"),
    Field(
        description=(
            "Technique id (tech_…) or its slug (lowercase words joined by hyphens, e.g. cctv-cam), "
            "as returned by list_techniques."
        ),
        examples=["tech_abcd1234", "cctv-cam"],
    ),
]
RunId = Annotated[
    str,
    StringConstraints(pattern=rf"^run_{_ID_TAIL}$"),
    Field(
        description="Run id returned by a start tool or list_technique_runs; starts with run_.", examples=["run_abc123"]
    ),
]
ModelId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"),
    Field(
        description=(
            "Model endpoint id from list_models (e.g. t2i-flux-2-pro), not a display name and not a "
            "family such as t2i. Omit to let FLORA pick its default model for the type."
        ),
        examples=["t2i-flux-2-pro"],
    ),
]
IdempotencyKey = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9._:-]{8,255}$"),
    Field(
        description=(
            "Your own key for this logical start (8-255 letters, digits, . _ : -). Send the same key "
            "when you retry the same start and FLORA will not run or charge it twice. Omit it and "
            "one is generated and returned to you."
        ),
    ),
]
Cursor = Annotated[
    str,
    StringConstraints(min_length=1, max_length=2048),
    Field(description="next_cursor from the previous page; omit for the first page."),
]
Limit = Annotated[int, Field(ge=1, le=100, description="Maximum number of items to return (1-100).")]

# --- closed enumerations -----------------------------------------------------------------------
GenerationType = Literal["image", "video", "audio", "text"]
RunType = Literal["generation", "technique", "action"]
RunStatus = Literal["pending", "running", "completed", "failed"]
TechniqueInputType = Literal["text", "imageUrl", "videoUrl"]
OutputType = Literal["imageUrl", "videoUrl", "audioUrl", "text", "documentUrl"]
TechniqueRunMode = Literal["async", "stream"]

TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed"})

_LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


def check_public_https_url(url: str) -> str:
    """Refuse a callback URL FLORA would refuse, or that would point FLORA at a private network.

    FLORA delivers webhooks to HTTPS hosts only, never to private hosts. The check is on the
    URL as written (no DNS lookup): scheme https, a host, and a host that is not a loopback,
    private, link-local or otherwise non-global address or name.
    """
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise ValueError("callback_url must be an https:// URL")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise ValueError("callback_url must name a host, e.g. https://hooks.example.com/flora")
    if parts.username or parts.password:
        raise ValueError("callback_url must not carry a user name or password")
    if host in _LOOPBACK_NAMES or host.endswith((".localhost", ".local", ".internal")):
        raise ValueError("callback_url must be a public host, not a loopback or local name")
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = _numeric_ipv4(host)
    if address is None:
        return url
    if not address.is_global or address.is_multicast:
        raise ValueError("callback_url must be a public host, not a loopback, private or link-local address")
    return url


def _numeric_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The address of a host written as IPv4 in another form (2130706433, 0x7f.1, 0177.0.0.1, 127.1).

    URL parsers (WHATWG's, curl's) read a host whose last label is a number as an IPv4 address, so
    https://2130706433/ is https://127.0.0.1/ to whoever calls it.
    """
    last = host.rsplit(".", 1)[-1]
    if not re.fullmatch(r"0x[0-9a-f]*|[0-9]+", last):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        raise ValueError("callback_url's host looks like an IP address but is not a valid one") from None


CallbackUrl = Annotated[
    str,
    StringConstraints(max_length=2048),
    AfterValidator(check_public_https_url),
    Field(
        description=(
            "Optional public https URL that FLORA calls with run.completed or run.failed. "
            "Loopback, private and link-local hosts are refused."
        )
    ),
]


# --- requests ----------------------------------------------------------------------------------
class RequestModel(BaseModel):
    """Base of every request: unknown fields are refused, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class GenerationRunRequest(RequestModel):
    """Body of POST /runs/generation: one model generation in a project canvas."""

    workspace_id: WorkspaceId
    project_id: ProjectId
    prompt: str = Field(
        min_length=1,
        max_length=20000,
        description="What to generate, in plain words (e.g. 'A cinematic product photo of a ceramic mug').",
    )
    type: GenerationType = Field(
        description='Generation type: "image", "video", "audio" or "text". Not a model family like t2i.'
    )
    model: ModelId | None = None
    params: dict[str, Any] | None = Field(
        default=None,
        description=(
            "Model parameters by name, as listed in list_models' params for the chosen model "
            '(e.g. {"aspect_ratio": "16:9"}). Values FLORA does not check still run and bill.'
        ),
    )


class TechniqueRunRequest(RequestModel):
    """Body of POST /runs/technique: a technique run through the top-level run resource."""

    technique_id: TechniqueId
    workspace_id: WorkspaceId
    inputs: dict[str, Any] = Field(description="Technique inputs as a map of input id to value.")


class TechniqueInput(RequestModel):
    """One input of a technique run, as get_technique lists them."""

    id: str = Field(min_length=1, max_length=128, description="Input id from get_technique's inputs (e.g. 'subject').")
    type: TechniqueInputType = Field(
        description='"text" for words, "imageUrl" or "videoUrl" for a link to a media file.'
    )
    value: str = Field(max_length=20000, description="The text itself, or the https URL of the image or video.")


class NestedTechniqueRunRequest(RequestModel):
    """Body of POST /techniques/{techniqueId}/runs: the nested technique start."""

    inputs: list[TechniqueInput] = Field(max_length=64, description="Technique inputs.")
    mode: TechniqueRunMode = Field(default="async", description="Execution mode; this server uses async.")
    callback_url: CallbackUrl | None = None
    idempotency_key: IdempotencyKey | None = None


class StartTechniqueRun(RequestModel):
    """A technique start as the agent states it; the client picks FLORA's route for it.

    With a workspace_id, a tech_ id and no callback_url it goes to POST /runs/technique (inputs
    sent as an id → value map); otherwise to POST /techniques/{id}/runs in async mode.
    """

    technique_id: TechniqueRef
    inputs: list[TechniqueInput] = Field(
        max_length=64,
        description=(
            "Technique inputs: one {id, type, value} per input listed by get_technique "
            "(type text, imageUrl or videoUrl). Required inputs must be present."
        ),
    )
    workspace_id: WorkspaceId | None = None
    callback_url: CallbackUrl | None = None
    idempotency_key: IdempotencyKey | None = None

    def uses_top_level_route(self) -> bool:
        """True when the documented top-level route can carry this start."""
        return self.workspace_id is not None and self.technique_id.startswith("tech_") and self.callback_url is None


class TechniqueRunListQuery(RequestModel):
    """Query of GET /technique-runs: technique run history, newest first."""

    workspace_id: WorkspaceId | None = None
    project_id: ProjectId | None = None
    technique_id: TechniqueRef | None = None
    status: RunStatus | None = Field(default=None, description="Only runs in this status.")
    limit: Limit | None = None
    cursor: Cursor | None = None


class ProjectListQuery(RequestModel):
    """Query of GET /projects."""

    workspace_id: WorkspaceId
    query: str | None = Field(default=None, max_length=200, description="Only projects whose name matches.")
    limit: Limit | None = None
    cursor: Cursor | None = None


class TechniqueListQuery(RequestModel):
    """Query of GET /techniques."""

    workspace_id: WorkspaceId | None = None
    query: str | None = Field(default=None, max_length=200, description="Only techniques matching these words.")
    limit: Limit | None = None
    cursor: Cursor | None = None


class ModelListQuery(RequestModel):
    """Query of GET /models."""

    type: GenerationType | None = Field(default=None, description="Only models of this generation type.")


class GenerationListQuery(RequestModel):
    """Query of GET /generations: generation run history."""

    workspace_id: WorkspaceId | None = None
    project_id: ProjectId | None = None
    status: RunStatus | None = Field(default=None, description="Only generations in this status.")
    limit: Limit | None = None
    cursor: Cursor | None = None


# --- responses ---------------------------------------------------------------------------------
class ResponseModel(BaseModel):
    """Base of every answer: unknown fields are kept, so a new FLORA field never breaks a call."""

    model_config = ConfigDict(extra="allow")


class ActionRef(ResponseModel):
    # Open-ended on purpose: FLORA documents 37 action ids "and more", and a new one must not
    # turn a started (and charged) run into a parse failure.
    action_id: str


class ModelRef(ResponseModel):
    model_id: str


class TechniqueSummary(ResponseModel):
    technique_id: str
    name: str | None = None


class StartResponse(ResponseModel):
    """Answer of POST /runs/generation and POST /runs/technique."""

    run_id: str
    type: RunType | None = None
    charged_cost: float | None = Field(default=None, description="Quoted cost in USD; the final charge can differ.")
    estimated_seconds: float | None = None
    poll_url: str | None = None
    project_id: str | None = None
    action: ActionRef | None = None
    model: ModelRef | None = None
    technique: TechniqueSummary | None = None


class RunOutput(ResponseModel):
    output_id: str
    type: OutputType
    url: str = Field(description="URL of the media file, or for a text output the text itself.")


class RunState(ResponseModel):
    """A run's state: GET /runs/{id}, GET /techniques/{id}/runs/{id}, and the nested start's answer."""

    run_id: str
    status: RunStatus
    progress: float = 0
    created_at: float | None = None
    started_at: float | None = None
    completed_at: float | None = None
    charged_cost: float | None = None
    error_code: str | None = None
    error_message: str | None = None
    poll_url: str | None = None
    outputs: list[RunOutput] | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class TechniqueRunItem(RunState):
    """One item of GET /technique-runs."""

    project_id: str | None = None
    workspace_id: str | None = None
    technique_run_id: str | None = None
    technique: TechniqueSummary | None = None


class ListMeta(ResponseModel):
    next_cursor: str | None = None
    total_estimate: float | None = None


class TechniqueRunList(ResponseModel):
    technique_runs: list[TechniqueRunItem]
    meta: ListMeta = Field(default_factory=ListMeta)


class Workspace(ResponseModel):
    workspace_id: str
    name: str | None = None
    role: str | None = None
    created_at: float | str | None = None


class WorkspaceList(ResponseModel):
    workspaces: list[Workspace]


class Project(ResponseModel):
    project_id: str
    workspace_id: str | None = None
    name: str | None = None
    created_at: float | str | None = None
    last_modified: float | str | None = None
    origin: str | None = None


class ProjectList(ResponseModel):
    projects: list[Project]
    meta: ListMeta = Field(default_factory=ListMeta)


class ModelParam(ResponseModel):
    name: str
    required: bool | None = None
    type: str | None = None
    default: Any = None
    description: str | None = None
    min: float | None = None
    max: float | None = None
    options: list[Any] | None = None


class Model(ResponseModel):
    model_id: str
    name: str | None = None
    provider: str | None = None
    type: GenerationType | None = None
    capabilities: list[str] | None = None
    estimated_credits: float | None = None
    estimated_seconds: float | None = None
    beta: bool | None = None
    params: list[ModelParam] | None = None


class ModelList(ResponseModel):
    models: list[Model]


class TechniqueIO(ResponseModel):
    id: str
    name: str | None = None
    type: str | None = None
    optional: bool | None = None
    description: str | None = None


class Technique(ResponseModel):
    technique_id: str
    name: str | None = None
    slug: str | None = None
    description: str | None = None
    run_cost: float | None = Field(default=None, description="Cost of one run in USD.")
    inputs: list[TechniqueIO] | None = None
    outputs: list[TechniqueIO] | None = None


class TechniqueList(ResponseModel):
    techniques: list[Technique]
    meta: ListMeta = Field(default_factory=ListMeta)


class GenerationItem(ResponseModel):
    """One item of GET /generations. FLORA documents no item shape, so every field is optional."""

    run_id: str | None = None
    status: RunStatus | None = None
    type: str | None = None
    project_id: str | None = None
    workspace_id: str | None = None
    prompt: str | None = None
    model: ModelRef | None = None
    progress: float | None = None
    created_at: float | str | None = None
    completed_at: float | str | None = None
    charged_cost: float | None = None
    error_code: str | None = None
    error_message: str | None = None
    poll_url: str | None = None
    outputs: list[RunOutput] | None = None


class GenerationList(ResponseModel):
    generations: list[GenerationItem]
    meta: ListMeta = Field(default_factory=ListMeta)


class ErrorField(ResponseModel):
    field: str
    message: str


class ErrorBody(ResponseModel):
    code: str
    message: str = ""
    fields: list[ErrorField] | None = None


class ErrorEnvelope(ResponseModel):
    error: ErrorBody
