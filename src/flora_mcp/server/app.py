"""The server factory: `create_server(settings)` builds the MCP server; its lifespan owns the client.

Nothing happens at import or construction: the lifespan opens the HTTP client (and, with a
sandbox, serves it on a loopback port) when a transport starts the server, and closes them
when it stops; the client's connection pool waits for the first FLORA call (flora_http.py).
The server subclass is the one boundary where tool failures are worded: SDK argument-validation
errors and our own tool errors reach the model as plain, actionable text instead of
"Error executing tool ...".
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import httpx
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp_types import CallToolResult, InputRequiredResult
from pydantic import ValidationError

from flora_mcp import __version__
from flora_mcp.api.client import FloraClient
from flora_mcp.config import Settings
from flora_mcp.server.errors import invalid_arguments_text
from flora_mcp.server.flora_http import flora_http_client
from flora_mcp.server.hints import RunMemory
from flora_mcp.server.quotes import QuoteBook
from flora_mcp.server.spending import SpendLedger
from flora_mcp.server.state import AppState
from flora_mcp.server.tools import START_TOOLS, build_tools

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
   cost); do not start the same thing twice. If a start's answer was lost, retry with the same
   idempotency_key; it is never charged twice.
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
Money: get_session_spend shows this session's runs and spend; over the spend cap starts are refused (tell the user)."""

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
        """Stop serving (and so advertising) prompts and resources: this server has neither.

        MCPServer registers their list/read handlers whatever it holds, and the capabilities a
        client sees are derived from the registered handlers, so a client would be told of
        prompts and resources that do not exist. Without the handlers those methods answer
        "Method not found", which is the truth.
        """
        handlers = self._lowlevel_server._request_handlers
        for method in ("prompts/list", "prompts/get"):
            handlers.pop(method, None)
        for method in ("resources/list", "resources/read", "resources/templates/list"):
            handlers.pop(method, None)

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[AppState, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        if self.read_only and name in START_TOOLS:
            # Not "Unknown tool": the agent must learn that starts are off here, not that it misspelt.
            raise ToolError(STARTS_DISABLED.format(name=name))
        try:
            return await super().call_tool(name, arguments, context)
        except UnexpectedToolError as exc:
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


def create_server(
    settings: Settings,
    *,
    http_client: httpx.AsyncClient | None = None,
    sandbox: Sandbox | None = None,
    sandbox_url: str | None = None,
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> MCPServer[AppState]:
    """The flora-mcp MCP server.

    - `http_client`: the httpx client to reach FLORA with (owned by the caller, not closed
      here); by default the lifespan opens and closes its own.
    - `sandbox`: talk to this sandbox instead of FLORA, with its key. Without `http_client` the
      lifespan serves it on a loopback port, so the output URLs it returns can be fetched;
      with one (e.g. `httpx.AsyncClient(transport=sandbox.transport())`) it is reached in process.
    - `sandbox_url`: the sandbox is already served at this base URL (the CLI serves it once for
      HTTP transports, where SSE would otherwise serve one per connection); use it as it is.
    - `sleep`, `clock`: how wait_for_run waits and measures time (tests pass fakes).
    """
    memory = RunMemory()
    # One ledger and quote cache per server object, so per process: the cap is the process's.
    ledger = SpendLedger(cap_usd=settings.max_spend_usd)
    quotes = QuoteBook()

    @asynccontextmanager
    async def lifespan(_: MCPServer[AppState]) -> AsyncIterator[AppState]:
        async with AsyncExitStack() as stack:
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
            client = FloraClient.from_settings(settings, client_http, base_url=base_url, api_key=api_key, sleep=sleep)
            logger.info("flora-mcp ready", extra={"base_url": base_url, "sandbox": sandbox is not None})
            if settings.read_only:
                logger.info("read-only: the start tools are not offered")
            yield AppState(
                client=client,
                memory=memory,
                sleep=sleep,
                clock=clock,
                ledger=ledger,
                quotes=quotes,
                confirm_above_usd=settings.confirm_above_usd,
            )

    return FloraMCPServer(
        name="flora-mcp",
        title="FLORA",
        description="FLORA's image, video, audio, text and technique runs as tools.",
        instructions=instructions_for(settings),
        website_url="https://flora.ai",
        version=__version__,
        lifespan=lifespan,
        tools=build_tools(read_only=settings.read_only),
        log_level=settings.log_level,
        has_default_key=sandbox is not None or settings.api_key is not None,
        read_only=settings.read_only,
    )
