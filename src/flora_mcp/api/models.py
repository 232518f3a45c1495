"""The shapes of FLORA's public API, as pydantic models.

One source of truth: the request models validate a tool's arguments, are the JSON Schema the
agent reads, and are the body or query the client sends. Their field descriptions are written
for a language model choosing arguments.

Requests are strict (closed enumerations, id prefixes, no unknown fields), so a bad argument is
refused before anything is sent. Responses are lenient: unknown fields are kept, optional fields
may be null, and enumerations are open (a status, output type, run type or model type FLORA adds
is kept as the string it sent: FLORA adds values over time and a paid run must stay readable).
One malformed item of a list page is skipped, with a note, instead of failing the page. A start answer needs nothing
but `run_id`: refusing a start answer over a missing detail would report a run that is running,
and charging, as failed.
"""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    model_validator,
)

from flora_mcp.api.urls import check_public_https_url

logger = logging.getLogger("flora_mcp.api")

# --- identifiers -------------------------------------------------------------------------------
# Ids travel in URL paths and queries, so their alphabet is closed: a value can never add a path
# segment, a query or a fragment to a request.
_ID_TAIL = r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}"

WorkspaceId = Annotated[
    str,
    StringConstraints(pattern=rf"^ws_{_ID_TAIL}$"),
    Field(description="From list_workspaces."),
]
ProjectId = Annotated[
    str,
    StringConstraints(pattern=rf"^prj_{_ID_TAIL}$"),
    Field(description="From list_projects."),
]
TechniqueId = Annotated[
    str,
    StringConstraints(pattern=rf"^tech_{_ID_TAIL}$"),
    Field(description="From list_techniques."),
]
TechniqueRef = Annotated[
    str,
    StringConstraints(pattern=rf"^(tech_{_ID_TAIL}|[a-z0-9][a-z0-9-]{{0,127}})$"),
    Field(description="Id or slug from list_techniques."),
]
RunId = Annotated[
    str,
    StringConstraints(pattern=rf"^run_{_ID_TAIL}$"),
    Field(description="From a start or a run list."),
]
ModelId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"),
    Field(
        description="From list_models; omit for the type's default.",
    ),
]
ActionId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"),
    Field(description="From list_actions (e.g. resize-image-browser)."),
]
IdempotencyKey = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9._:-]{8,255}$"),
    Field(
        description="Resend it on a retry; omit to get one generated.",
    ),
]
Cursor = Annotated[
    str,
    StringConstraints(min_length=1, max_length=2048),
    Field(description="A previous page's next_cursor."),
]
Limit = Annotated[int, Field(ge=1, le=100, description="Page size.")]

# --- enumerations: closed for what we send, open for what we read -----------------------------
GenerationType = Literal["image", "video", "audio", "text"]
RunType = Literal["generation", "technique", "action"]
RunStatus = Literal["pending", "running", "completed", "failed"]
# Every type a technique can declare for an input; "json" is an input that takes any JSON value.
TechniqueInputType = Literal["text", "imageUrl", "videoUrl", "audioUrl", "documentUrl", "json"]
# The nested route documents fewer: its inputs are {id, type, value} with a string value.
NestedTechniqueInputType = Literal["text", "imageUrl", "videoUrl"]
_NESTED_TYPES: tuple[str, ...] = get_args(NestedTechniqueInputType)
OutputType = Literal["imageUrl", "videoUrl", "audioUrl", "text", "documentUrl"]
TechniqueRunMode = Literal["async", "stream"]

TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed"})
KNOWN_STATUSES: frozenset[str] = frozenset({"pending", "running", "completed", "failed"})
KNOWN_OUTPUT_TYPES: frozenset[str] = frozenset({"imageUrl", "videoUrl", "audioUrl", "text", "documentUrl"})

CallbackUrl = Annotated[
    str,
    StringConstraints(max_length=2048),
    AfterValidator(check_public_https_url),
    Field(description=("A public https URL FLORA calls when the run ends.")),
]


# --- requests ----------------------------------------------------------------------------------
class RequestModel(BaseModel):
    """Base of every request: unknown fields are refused, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False, defer_build=True)


class GenerationRunRequest(RequestModel):
    """Body of POST /runs/generation: one model generation in a project canvas."""

    workspace_id: WorkspaceId
    project_id: ProjectId
    prompt: str = Field(
        min_length=1,
        max_length=20000,
        description="What to generate, in plain words.",
    )
    type: GenerationType = Field(description="What to make; not a model family like t2i.")
    model: ModelId | None = None
    params: dict[str, Any] | None = Field(
        default=None,
        description=(
            'From list_models (e.g. {"aspect_ratio": "16:9"}); a source goes in image_url (i2i-, i2v- models), '
            "image_urls list (i2t-, r2v-) or video_urls list (v2t-)."
        ),
    )


class TechniqueRunRequest(RequestModel):
    """Body of POST /runs/technique: a technique run through the top-level run resource."""

    technique_id: TechniqueId
    workspace_id: WorkspaceId
    inputs: dict[str, JsonValue] = Field(description="Technique inputs as a map of input id to JSON value.")


class TechniqueInput(RequestModel):
    """An input get_technique lists: {id, type, value}."""

    id: str = Field(min_length=1, max_length=128, description="From get_technique's inputs.")
    type: TechniqueInputType = Field(
        description=("As get_technique lists it: text, a URL type (imageUrl, videoUrl, audioUrl, documentUrl) or json.")
    )
    value: JsonValue = Field(
        description=(
            "The text, an http(s) URL (a list if allow_multiple) or, for json, any JSON value. json, audioUrl "
            "and documentUrl need workspace_id (and no callback_url)."
        ),
    )

    @model_validator(mode="after")
    def _bounded(self) -> TechniqueInput:
        # The JSON travels in one request body: keep one input's value to a sane size.
        if len(repr(self.value)) > 20000:
            raise ValueError("value is longer than 20000 characters")
        return self


class NestedTechniqueInput(RequestModel):
    """One input on the nested route, whose documented shape carries a string value only."""

    # A TechniqueInput whose value is a string is accepted as one (read by its attributes).
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    id: str = Field(min_length=1, max_length=128)
    type: NestedTechniqueInputType
    value: str = Field(max_length=20000)


class NestedTechniqueRunRequest(RequestModel):
    """Body of POST /techniques/{techniqueId}/runs: the nested technique start."""

    inputs: list[NestedTechniqueInput] = Field(max_length=64, description="Technique inputs.")
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
        description=("Every required input must be present."),
    )
    workspace_id: WorkspaceId | None = None
    callback_url: CallbackUrl | None = None
    idempotency_key: IdempotencyKey | None = None

    def uses_top_level_route(self) -> bool:
        """True when the documented top-level route can carry this start."""
        return self.workspace_id is not None and self.technique_id.startswith("tech_") and self.callback_url is None

    @model_validator(mode="after")
    def _nested_route_can_carry_it(self) -> StartTechniqueRun:
        # Without workspace_id (or with a callback_url) only the nested route is left, and its
        # documented inputs are text, imageUrl or videoUrl with a string value: refuse the rest
        # here, unsent, with the fix. (A slug with a workspace_id is resolved to a tech_ id first.)
        if self.workspace_id is not None and self.callback_url is None:
            return self
        for item in self.inputs:
            values = item.value if isinstance(item.value, list) else [item.value]
            if item.type in _NESTED_TYPES and all(isinstance(v, str) for v in values):
                continue
            what = f"is of type {item.type}" if item.type not in _NESTED_TYPES else "has a non-text value"
            raise ValueError(
                f"technique input {item.id!r} {what}; without workspace_id (or with a callback_url) the start "
                f"goes to the nested technique route, which carries only {', '.join(_NESTED_TYPES)} inputs with "
                "text values. Give workspace_id with a tech_ id (and no callback_url) to use POST /runs/technique, "
                "which takes inputs of every type and JSON values"
            )
        return self


ActionMediaType = Literal["image", "video", "text", "audio"]


class ActionInput(RequestModel):
    """A media URL, or text."""

    type: ActionMediaType = Field(description="As list_actions lists it.")
    name: str | None = Field(default=None, min_length=1, max_length=128, description="From list_actions.")
    url: str | None = Field(default=None, max_length=4096, description="For media.")
    text: str | None = Field(default=None, max_length=20000, description="For text.")

    @model_validator(mode="after")
    def _one_value(self) -> ActionInput:
        # FLORA reads a text input's `text` and a media input's `url`; the other field is ignored there.
        if self.type == "text":
            if self.text is None or self.url is not None:
                raise ValueError("a text input carries text, not url")
        elif self.url is None or self.text is not None:
            raise ValueError(f"an {self.type} input carries url (an http(s) link to the file), not text")
        return self


class ActionRunRequest(RequestModel):
    """Body of POST /runs/action: one deterministic media transform (resize, crop, extract a frame...)."""

    action_id: ActionId
    workspace_id: WorkspaceId
    project_id: ProjectId
    inputs: list[ActionInput] = Field(min_length=1, max_length=64, description="From list_actions.")
    params: dict[str, JsonValue] | None = Field(default=None, description='By key (list_actions), e.g. {"width": 512}.')


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


class ProjectCreateRequest(RequestModel):
    """POST /workspaces/{workspace_id}/projects: the workspace travels in the path, the name in the body."""

    workspace_id: WorkspaceId
    name: str = Field(
        min_length=1,
        max_length=200,
        pattern=r"\S",  # a name of spaces only would list as blank
        description="The new project's name; not blank.",
    )


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
def _snake(name: str) -> str:
    return _CAMEL_HUMP.sub(r"\1_\2", name).lower()


_CAMEL_HUMP = re.compile(r"([a-z0-9])([A-Z])")


def _not_money(value: Any) -> Any:
    """A money or time field: a JSON true/false is no amount (pydantic would read it as 1 or 0)."""
    return None if isinstance(value, bool) else value


def _http_url_or_none(value: str | None) -> str | None:
    """Only http(s) links reach the agent or the viewer: a javascript: or data: URL is dropped."""
    if value is None or value.split(":", 1)[0].strip().lower() in ("http", "https"):
        return value
    return None


Amount = Annotated[float | None, BeforeValidator(_not_money)]
"""A number FLORA reports (USD, credits, seconds, progress). true/false reads as unknown, not 1/0."""
HttpUrl = Annotated[str | None, AfterValidator(_http_url_or_none)]
"""A link FLORA hands us to pass on: kept only when it is http(s)."""


class ResponseModel(BaseModel):
    """Base of every answer: unknown fields are kept, so a new FLORA field never breaks a call.

    camelCase keys are read as their snake_case names when the snake_case one is absent: some
    of FLORA's pages show `pollUrl`, `errorCode`, `chargedCost` (flora-api.md, "What FLORA really
    does"), and a field read as missing could turn a failed run's reason, or its charge, into nothing.
    """

    model_config = ConfigDict(extra="allow", defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _read_camel_case(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not any(isinstance(k, str) and _CAMEL_HUMP.search(k) for k in data):
            return data
        read: dict[Any, Any] = {}
        for key, value in data.items():
            if isinstance(key, str) and _CAMEL_HUMP.search(key):
                read.setdefault(_snake(key), value)  # one name per field: the snake_case one wins
            else:
                read[key] = value
        return read


class _NamesItsRun(ResponseModel):
    """An answer that names a run: FLORA may spell its id `run_id`, `runId` (read above) or `id`."""

    @model_validator(mode="before")
    @classmethod
    def _run_id_spellings(cls, data: Any) -> Any:
        named_elsewhere = isinstance(data, dict) and data.get("run_id") is None and data.get("runId") is None
        if named_elsewhere and isinstance(data.get("id"), str):
            read = dict(data)
            read["run_id"] = read.pop("id")
            return read
        return data


class ListPage(ResponseModel):
    """A page of items where one malformed item is skipped, never the whole page.

    `ITEMS` names the list field and its item model. Each skipped item leaves a note in
    `skipped` (its position and what was wrong, never its content), for the tool to show.
    """

    ITEMS: ClassVar[tuple[str, type[BaseModel]] | None] = None
    _skipped: list[str] = PrivateAttr(default_factory=list)

    @model_validator(mode="wrap")
    @classmethod
    def _skip_bad_items(cls, data: Any, handler: Any) -> Any:
        notes: list[str] = []
        if cls.ITEMS is not None and isinstance(data, dict) and isinstance(data.get(cls.ITEMS[0]), list):
            name, item_model = cls.ITEMS
            kept = []
            for index, item in enumerate(data[name]):
                try:
                    item_model.model_validate(item)
                except ValidationError as exc:
                    first = exc.errors(include_input=False, include_url=False)[0]
                    where = ".".join(str(p) for p in first["loc"]) or "item"
                    notes.append(f"item {index} of {name} skipped: {where}: {first['msg']}")
                    continue
                kept.append(item)
            data = {**data, name: kept}
        page = handler(data)
        if notes:
            logger.warning("skipped %d malformed item(s) of a %s", len(notes), cls.__name__)
        page._skipped = notes
        return page

    @property
    def skipped(self) -> list[str]:
        """Notes on the items left out of this page because they could not be read."""
        return list(self._skipped)


class ActionRef(ResponseModel):
    # Open-ended on purpose: FLORA documents 37 action ids "and more", and a new one must not
    # turn a started (and charged) run into a parse failure.
    action_id: str


class ModelRef(ResponseModel):
    model_id: str


class TechniqueSummary(ResponseModel):
    technique_id: str
    name: str | None = None


class StartResponse(_NamesItsRun):
    """Answer of POST /runs/generation and POST /runs/technique."""

    run_id: str
    type: str | None = Field(default=None, description="generation, technique, action, or a type FLORA added.")
    charged_cost: Amount = Field(default=None, description="Quoted cost in USD; the final charge can differ.")
    estimated_seconds: Amount = None
    poll_url: HttpUrl = None
    project_id: str | None = None
    action: ActionRef | None = None
    model: ModelRef | None = None
    technique: TechniqueSummary | None = None


class RunOutput(ResponseModel):
    output_id: str
    type: str = Field(description="imageUrl, videoUrl, audioUrl, text, documentUrl, or a type FLORA added.")
    url: str | None = Field(default=None, description="URL of the media file, or for a text output the text itself.")

    @model_validator(mode="after")
    def _media_links_are_http(self) -> RunOutput:
        # A text output's `url` is its text; every other output's url is a link, passed on only when http(s).
        if self.type != "text":
            self.url = _http_url_or_none(self.url)
        return self


class RunState(_NamesItsRun):
    """A run's state: GET /runs/{id}, GET /techniques/{id}/runs/{id}, and the nested start's answer.

    `status` is kept as FLORA sent it; only a status known to be terminal ends a wait.
    """

    run_id: str
    status: str
    progress: Amount = None
    created_at: Amount = None
    started_at: Amount = None
    completed_at: Amount = None
    charged_cost: Amount = None
    error_code: str | None = None
    error_message: str | None = None
    poll_url: HttpUrl = None
    outputs: list[RunOutput] | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def status_known(self) -> bool:
        return self.status in KNOWN_STATUSES


class TechniqueRunItem(RunState):
    """One item of GET /technique-runs."""

    project_id: str | None = None
    workspace_id: str | None = None
    technique_run_id: str | None = None
    technique: TechniqueSummary | None = None


class ListMeta(ResponseModel):
    next_cursor: str | None = None
    total_estimate: float | None = None


class TechniqueRunList(ListPage):
    ITEMS = ("technique_runs", TechniqueRunItem)
    technique_runs: list[TechniqueRunItem]
    meta: ListMeta = Field(default_factory=ListMeta)


class Workspace(ResponseModel):
    workspace_id: str
    name: str | None = None
    role: str | None = None
    created_at: float | str | None = None


class WorkspaceList(ListPage):
    ITEMS = ("workspaces", Workspace)
    workspaces: list[Workspace]


class Project(ResponseModel):
    project_id: str
    workspace_id: str | None = None
    name: str | None = None
    created_at: float | str | None = None
    last_modified: float | str | None = None
    origin: str | None = None


class ProjectList(ListPage):
    ITEMS = ("projects", Project)
    projects: list[Project]
    meta: ListMeta = Field(default_factory=ListMeta)


class ModelParam(ResponseModel):
    """One published param of a model. `type` is open: string, string[], bool, int, int?, seed,
    float, dict, or one FLORA added (passed unchecked). `options` items are {label, value} objects
    (or bare values)."""

    name: str
    required: bool | None = None
    type: str | None = None
    default: Any = None
    description: str | None = None
    label: str | None = None
    min: float | None = None
    max: float | None = None
    options: list[Any] | None = None
    properties: dict[str, Any] | None = None


class Model(ResponseModel):
    model_id: str
    name: str | None = None
    provider: str | None = None
    type: str | None = Field(default=None, description="image, video, audio, text, or a type FLORA added.")
    capabilities: list[str] | None = None
    estimated_credits: Amount = Field(default=None, description="FLORA credits (not USD) per run, estimated.")
    estimated_seconds: Amount = None
    beta: bool | None = None
    params: list[ModelParam] | None = None


class ModelList(ListPage):
    ITEMS = ("models", Model)
    models: list[Model]


class TechniqueIO(ResponseModel):
    id: str
    name: str | None = None
    type: str | None = None
    optional: bool | None = None
    description: str | None = None
    allow_multiple: bool | None = None


class Technique(ResponseModel):
    technique_id: str
    name: str | None = None
    slug: str | None = None
    description: str | None = None
    run_cost: Amount = Field(default=None, description="Cost of one run in USD.")
    inputs: list[TechniqueIO] | None = None
    outputs: list[TechniqueIO] | None = None


class ActionIO(ResponseModel):
    """An action's input or output. `multiple` is true, or {min?, max?} bounds on the count."""

    name: str
    type: str | None = Field(default=None, description="image, video, text, audio, or a type FLORA added.")
    optional: bool | None = None
    multiple: bool | dict[str, Any] | None = None


class ActionParam(ResponseModel):
    """One published param of an action; `type` is open (number, string, boolean, or one FLORA added)."""

    key: str
    type: str | None = None
    label: str | None = None
    info_tooltip: str | None = None
    default_value: Any = None
    available_values: list[Any] | None = None
    min_number_value: float | None = None
    max_number_value: float | None = None
    number_step: float | None = None


class Action(ResponseModel):
    action_id: str
    name: str | None = None
    description: str | None = None
    charged_cost: Amount = Field(default=None, description="Cost of one run in USD (often 0).")
    language: str | None = None
    inputs: list[ActionIO] | None = None
    outputs: list[ActionIO] | None = None
    params: list[ActionParam] | None = None


class ActionList(ListPage):
    ITEMS = ("actions", Action)
    actions: list[Action]


class TechniqueList(ListPage):
    ITEMS = ("techniques", Technique)
    techniques: list[Technique]
    meta: ListMeta = Field(default_factory=ListMeta)


class GenerationItem(_NamesItsRun):
    """One item of GET /generations. FLORA documents no item shape, so every field is optional."""

    run_id: str | None = None
    status: str | None = None
    type: str | None = None
    project_id: str | None = None
    workspace_id: str | None = None
    prompt: str | None = None
    model: ModelRef | None = None
    progress: Amount = None
    created_at: float | str | None = None
    completed_at: float | str | None = None
    charged_cost: Amount = None
    error_code: str | None = None
    error_message: str | None = None
    poll_url: HttpUrl = None
    outputs: list[RunOutput] | None = None


class GenerationList(ListPage):
    ITEMS = ("generations", GenerationItem)
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
    """FLORA's documented error envelope, whole. The client reads error answers more leniently
    (errors.parse_envelope keeps whatever parts parse); this is the shape FLORA promises."""

    error: ErrorBody
