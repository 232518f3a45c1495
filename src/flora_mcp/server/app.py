"""The server factory: `create_server(settings)` builds the MCP server; its lifespan owns the client.

Nothing happens at import or construction: the lifespan opens the HTTP client (and, with a
sandbox, serves it on a loopback port) when a transport starts the server, and closes them
when it stops; the client's connection pool waits for the first FLORA call (flora_http.py).
The state store (the journal and spend ledger, flora_mcp.state) is built here and opened by
the lifespan; the confirmation flow's request-state key comes from it, so the second round of
a confirmation can land on any process that shares the store.
The server subclass is the one boundary where tool failures are worded: SDK argument-validation
errors and our own tool errors reach the model as plain, actionable text instead of
"Error executing tool ...".
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import httpx2
from mcp.server import MCPServer
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.request_state import AESGCMRequestStateCodec, RequestStateSecurity
from mcp_types import CallToolResult, InputRequiredResult, ListResourcesResult, PaginatedRequestParams
from pydantic import AnyUrl, ValidationError

from flora_mcp import __version__
from flora_mcp.config import Settings
from flora_mcp.outputs.resources import parse_output_uri
from flora_mcp.outputs.setup import build_output_service
from flora_mcp.outputs.viewer import RunViewer
from flora_mcp.runs.booking import Booking
from flora_mcp.runs.caller import Caller
from flora_mcp.runs.catalog import Catalog
from flora_mcp.runs.following import RunMemory
from flora_mcp.runs.input_hosts import allowed_origins
from flora_mcp.runs.quotes import QuoteBook
from flora_mcp.runs.refusals import Refusal
from flora_mcp.runs.upkeep import TICK_SECONDS, run_upkeep
from flora_mcp.server import resources as output_resources
from flora_mcp.server.context import AppState
from flora_mcp.server.errors import invalid_arguments_text, tool_error
from flora_mcp.server.flora_http import flora_client, flora_http_client
from flora_mcp.server.sdk_internals import ReadResourceContents, request_handlers
from flora_mcp.server.tasks import RunTasks
from flora_mcp.server.tools import build_tools, start_tool_names
from flora_mcp.state import Store, open_store

if TYPE_CHECKING:
    from flora_mcp.sandbox import Sandbox

logger = logging.getLogger("flora_mcp.server")

STEP_FIND = """\
flora-mcp gives you FLORA's generative runs: images, video, audio and text from a prompt, and
techniques (multi-step workflows) from inputs.
1. Find ids: list_workspaces -> list_projects (project_id) -> list_models (model ids and params);
   for techniques, list_techniques -> get_technique (its inputs).
"""

STEP_START = """\
2. Start: start_generation_run or start_technique_run. Starts cost money (the answer quotes the
   cost). Calling a start again with the same arguments (e.g. after a timeout) answers the run
   already started and is never charged twice; repeat=true starts another on purpose.
   Several variations at once: start_generation_runs (1 to 20 items), then wait_for_runs.
"""

STEP_START_DISABLED = """\
2. Starts are disabled: the operator runs this server read-only (--read-only), so it offers no
   start tools and cannot spend money. Do not try to start runs; tell the user if they ask for
   one. Everything else works: find ids, follow and read runs started elsewhere.
"""

STEPS_FOLLOW = """\
3. Follow: wait_for_run(run_id[, technique_id]) waits with progress and returns outputs; if it
   returns before the run ends, call it again. get_run / get_technique_run read the state once.
4. Read outputs: media outputs are URLs (also resource links); text outputs hold the text.
Every result has a `next` hint naming the tool, arguments and when to call it. Errors say
whether to fix the input, wait and retry, or stop and tell the user."""

MONEY = """
Money: get_spend shows your runs and spend in the budget window; over the spend cap starts are
refused (tell the user). find_runs searches your past starts by prompt words and date, with
their outputs and costs (FLORA's own run lists carry no prompts)."""

INSTRUCTIONS = STEP_FIND + STEP_START + STEPS_FOLLOW + MONEY
READ_ONLY_INSTRUCTIONS = STEP_FIND + STEP_START_DISABLED + STEPS_FOLLOW

STARTS_DISABLED = (
    "{name} is disabled: the operator runs this server read-only (--read-only, FLORA_READ_ONLY), so no run "
    "can be started and nothing can be spent here. Nothing was sent to FLORA. What still works: list_workspaces, "
    "list_projects, list_models, list_techniques, get_technique, get_session_spend, and get_run / get_technique_run / "
    "wait_for_run / list_technique_runs / list_generations for runs started elsewhere. Next step: tell the user "
    "starts are disabled on this server; only its operator can enable them."
)


def instructions_for(settings: Settings) -> str:
    """The server instructions; a read-only server says starts are disabled instead of how to start."""
    return READ_ONLY_INSTRUCTIONS if settings.read_only else INSTRUCTIONS


class FloraMCPServer(MCPServer[AppState]):
    """MCPServer whose tool failures always read as actionable text (see module docstring)."""

    def __init__(self, *args: Any, has_default_key: bool = False, read_only: bool = False, **kwargs: Any) -> None:
        # No subscriptions/listen: this server never sends change notifications, so it must not
        # advertise listChanged or resources.subscribe for them (the 2026-07-28 era derives both
        # from that method being served).
        super().__init__(*args, subscriptions=False, **kwargs)
        # Whether requests that bring no key of their own can use the server's (see http_auth).
        self.has_default_key = has_default_key
        self.read_only = read_only
        self._input_schemas = {tool.name: tool.parameters for tool in kwargs.get("tools") or []}
        self._drop_unserved_methods()

    def _drop_unserved_methods(self) -> None:
        """Stop serving (and so advertising) prompts: this server has none.

        MCPServer registers their list/get handlers whatever it holds, and the capabilities a
        client sees are derived from the registered handlers, so a client would be told of
        prompts that do not exist. Without the handlers those methods answer "Method not
        found", which is the truth. Resources stay: run outputs are served as resources.
        """
        handlers = request_handlers(self)  # an SDK internal: see sdk_internals.py
        for method in ("prompts/list", "prompts/get"):
            handlers.pop(method, None)

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[AppState, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        if self.read_only and name in start_tool_names():
            # Not "Unknown tool": the agent must learn that starts are off here, not that it misspelt.
            raise ToolError(STARTS_DISABLED.format(name=name))
        try:
            return await super().call_tool(name, arguments, context)
        except UnexpectedToolError as exc:
            if isinstance(exc.__cause__, Refusal):
                # The core said no (the cap, a key conflict, a mistake in the catalog, FLORA's refusal).
                raise tool_error(exc.__cause__) from exc.__cause__
            logger.error("tool %s crashed", name, exc_info=exc.__cause__ or exc)
            raise ToolError(
                f"flora-mcp failed unexpectedly in {name} ({type(exc.__cause__).__name__}); the details are in "
                "the server log. Next step: stop and tell the user; this is a bug in flora-mcp, not your input."
            ) from exc
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(cause, ValidationError):
                # The arguments failed the input schema; nothing was sent.
                raise ToolError(invalid_arguments_text(name, cause, self._input_schemas.get(name, {}))) from cause
            if isinstance(cause, ToolError):
                # Our own text, without the SDK's "Error executing tool NAME:" prefix.
                raise cause from cause.__cause__
            raise

    async def read_resource(
        self, uri: AnyUrl | str, context: Context[AppState, Any] | None = None
    ) -> Iterable[ReadResourceContents] | InputRequiredResult:
        # Output URIs answer with each output's own MIME type, which a template cannot give.
        if context is not None and parse_output_uri(str(uri)) is not None:
            return await output_resources.read_output_for(context, str(uri))
        return await super().read_resource(uri, context)

    async def _handle_list_resources(
        self, ctx: ServerRequestContext[AppState], params: PaginatedRequestParams | None
    ) -> ListResourcesResult:
        # The SDK's list_resources() takes no request context, and the listing is per caller:
        # this overrides the SDK's own handler (tests/outputs/test_mcp.py fails if that changes).
        context = Context(request_context=ctx, mcp_server=self)
        listed = await output_resources.list_outputs_for(context)
        return ListResourcesResult(resources=[*await self.list_resources(), *listed])


class StoreRequestStateCodec:
    """The confirmation flow's request-state codec, keyed by a secret kept in the state store.

    The key is only known once the lifespan has opened the store; every process on the same
    store gets the same key, so a confirmation's second round may reach any of them.
    """

    def __init__(self) -> None:
        self._codec: AESGCMRequestStateCodec | None = None

    async def load(self, store: Store) -> None:
        self._codec = AESGCMRequestStateCodec([await store.meta_secret("request-state")])

    def _ready(self) -> AESGCMRequestStateCodec:
        if self._codec is None:  # pragma: no cover - only before the lifespan ran
            raise RuntimeError("flora-mcp's state store is not open yet")
        return self._codec

    def seal(self, payload: bytes) -> str:
        return self._ready().seal(payload)

    def unseal(self, token: str) -> bytes:
        return self._ready().unseal(token)


def create_server(
    settings: Settings,
    *,
    http_client: httpx2.AsyncClient | None = None,
    sandbox: Sandbox | None = None,
    store: Store | None = None,
    sandbox_url: str | None = None,
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
    upkeep_tick_seconds: float = TICK_SECONDS,
    upkeep_sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
) -> MCPServer[AppState]:
    """The flora-mcp MCP server.

    - `http_client`: the httpx2 client to reach FLORA with (owned by the caller, not closed
      here); by default the lifespan opens and closes its own.
    - `sandbox`: talk to this sandbox instead of FLORA, with its key. Without `http_client` the
      lifespan serves it on a loopback port, so the output URLs it returns can be fetched;
      with one (e.g. `httpx2.AsyncClient(transport=sandbox.transport())`) it is reached in process.
    - `store`: the state store (unopened or open); by default the one FLORA_STATE_URL names,
      or, on a sandbox, an in-memory one (the sandbox's runs end with the process too).
    - `sleep`, `clock`: how wait_for_run waits and measures time (tests pass fakes);
      `wall_clock`: unix time for the journal and the budget window.
    - `sandbox_url`: the sandbox is already served at this base URL (the CLI serves it once for
      HTTP transports, where SSE would otherwise serve one per connection); use it as it is.
    - `upkeep_tick_seconds`, `upkeep_sleep`: how often the background upkeep (runs/upkeep.py:
      late charges, starts left in flight, retention) runs, and how it waits between ticks. Not
      `sleep`: a test's fake sleep moves its clock, which the upkeep must never do (each tick
      would push time on). Tests give a clock's `wait`, which waits for others to move it.
    """
    memory = RunMemory()
    # The catalog (models, techniques) is cached per caller and shared by quotes and param checks.
    quotes = QuoteBook(Catalog(clock=clock), usd_per_credit=settings.usd_per_credit)
    if store is None:
        store = open_store(settings.store_url(sandbox=sandbox is not None), secret=settings.state_secret_value())
    booking = Booking(
        store,
        cap_usd=settings.max_spend_usd,
        spend_window=settings.spend_window,
        repeat_window_seconds=settings.repeat_window_seconds,
        wall_clock=wall_clock,
    )
    codec = StoreRequestStateCodec()
    active = 0  # lifespans running: in-memory clients run one per connection, sharing the store
    viewer = RunViewer(settings.media_origin_list())

    @asynccontextmanager
    async def lifespan(_: MCPServer[AppState]) -> AsyncIterator[AppState]:
        nonlocal active
        async with AsyncExitStack() as stack:
            if active == 0:
                await store.open()
                await codec.load(store)
            active += 1

            @stack.push_async_callback
            async def _release() -> None:
                nonlocal active
                active -= 1
                if active == 0:
                    await store.close()

            api_key, base_url = settings.api_key_value(), settings.base_url
            if sandbox is not None:
                api_key, base_url = sandbox.config.api_key, sandbox_url or sandbox.base_url()
                if http_client is None and sandbox_url is None:
                    base_url = await stack.enter_async_context(sandbox.serving())
            client_http = http_client
            if client_http is None:
                # A loopback sandbox must not be sent through a proxy from the environment. The
                # client's pool and TLS context are built at its first request (flora_http), so a
                # start that only lists tools never pays for them.
                client_http = await stack.enter_async_context(flora_http_client(trust_env=sandbox is None))
            client = flora_client(settings, client_http, base_url=base_url, api_key=api_key, sleep=sleep)
            # The server key's caller, made once: stdio's every request, and HTTP's when the key is lent.
            own = Caller(store.fingerprint(api_key or ""), client)
            # Late charges and retention (runs/upkeep.py), stopped before the client and store close.
            upkeep = await stack.enter_async_context(anyio.create_task_group())
            stack.callback(upkeep.cancel_scope.cancel)
            upkeep.start_soon(
                functools.partial(
                    run_upkeep,
                    store,
                    client,
                    server_caller=own.fingerprint if api_key else None,
                    retention_days=settings.state_retention_days,
                    wall_clock=wall_clock,
                    tick_seconds=upkeep_tick_seconds,
                    sleep=upkeep_sleep,
                )
            )
            logger.info("flora-mcp ready", extra={"base_url": base_url, "sandbox": sandbox is not None})
            if settings.read_only:
                logger.info("read-only: the start tools are not offered")
            outputs = build_output_service(settings, client_http, store, base_url=base_url, sandbox=sandbox is not None)
            if sandbox is not None:
                viewer.set_media_origins([outputs.trusted_origin or base_url])
            yield AppState(
                outputs=outputs,
                client=client,
                own=own,
                booking=booking,
                memory=memory,
                sleep=sleep,
                clock=clock,
                quotes=quotes,
                confirm_above_usd=settings.confirm_above_usd,
                strict_params=settings.strict_params,
                input_dirs=tuple(settings.input_dir_list()),
                # The sandbox serves its media under its own origin, as FLORA's API origin may.
                input_origins=allowed_origins(
                    [*settings.media_origin_list(), base_url, *filter(None, [outputs.trusted_origin])]
                ),
            )

    server = FloraMCPServer(
        name="flora-mcp",
        title="FLORA",
        description="FLORA's image, video, audio, text and technique runs as tools.",
        instructions=instructions_for(settings),
        website_url="https://flora.ai",
        version=__version__,
        lifespan=lifespan,
        tools=RunViewer.bind(build_tools(read_only=settings.read_only)),
        # MCP Apps (the run viewer) and runs as MCP tasks, for the clients that declare them.
        extensions=[viewer.apps, RunTasks()],
        log_level=settings.log_level,
        has_default_key=sandbox is not None or settings.api_key is not None,
        request_state_security=RequestStateSecurity(codec=codec),
        read_only=settings.read_only,
    )
    output_resources.register_template(server)
    return server
