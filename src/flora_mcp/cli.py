"""The `flora-mcp` command: serve the MCP server, serve the sandbox, or run the demo.

    flora-mcp [--transport stdio|streamable-http|sse] [--host H] [--port N] [--sandbox] ...
    flora-mcp sandbox [--port N]      serve the local FLORA-compatible API
    flora-mcp demo                    a narrated session against the sandbox
    flora-mcp spend [--days N]        the spend report of FLORA_API_KEY's caller, from the state store

Flags override FLORA_* environment variables, which override defaults. In stdio mode stdout is
the MCP wire, so everything this module says goes to stderr; only `sandbox` and `demo`, which
are not MCP servers, write to stdout.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from flora_mcp import __version__

if TYPE_CHECKING:
    from pydantic import ValidationError

    from flora_mcp.config import Settings
    from flora_mcp.server.wire.http_auth import KeyLending

# Imports wait until the command needs them: `--help` and `--version` answer without loading
# pydantic, the sandbox loads only for `sandbox` or `--sandbox`, the demo only for `demo`, and
# the MCP server only when serving it.

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 0 (any free one) to 65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port: use 1-65535 (or 0 for any free port)")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flora-mcp",
        description="MCP server for FLORA's generative runs. Without a command it serves MCP (stdio by default).",
    )
    parser.add_argument("--version", action="version", version=f"flora-mcp {__version__}")
    parser.add_argument(
        "--transport",
        choices=("stdio", "streamable-http", "sse"),
        default="stdio",
        help="MCP transport (default stdio; sse is for older clients).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1).")
    parser.add_argument("--port", type=port_number, default=8000, help="HTTP port (default 8000).")
    parser.add_argument(
        "--allowed-host",
        action="append",
        dest="allowed_hosts",
        metavar="HOST[:PORT]",
        help="Host header value to accept over HTTP (repeatable); needed when serving on a public name.",
    )
    parser.add_argument(
        "--sandbox", action="store_true", help="Run against the built-in local sandbox API; no key needed."
    )
    parser.add_argument("--base-url", help="FLORA API base URL (env FLORA_BASE_URL).")
    parser.add_argument("--timeout", type=float, help="Seconds to wait for one FLORA answer (env FLORA_TIMEOUT).")
    parser.add_argument("--max-retries", type=int, help="Retries of a failed FLORA call (env FLORA_MAX_RETRIES).")
    parser.add_argument(
        "--log-level", type=str.upper, choices=LOG_LEVELS, help="Log level on stderr (env FLORA_LOG_LEVEL)."
    )
    parser.add_argument(
        "--max-spend-usd",
        type=float,
        metavar="USD",
        help="Refuse starts once this process's runs cost this much (env FLORA_MAX_SPEND_USD; default no cap).",
    )
    parser.add_argument(
        "--confirm-above-usd",
        type=float,
        metavar="USD",
        help="Ask the user to confirm a start that costs more than this (env FLORA_CONFIRM_ABOVE_USD).",
    )
    parser.add_argument(
        "--read-only",
        action="store_true",
        default=None,
        help="Do not offer the start tools at all; nothing can be spent (env FLORA_READ_ONLY).",
    )
    parser.add_argument(
        "--max-request-bytes",
        type=int,
        metavar="N",
        help="Largest MCP request accepted: HTTP body or stdio line (env FLORA_MAX_REQUEST_BYTES; default 1 MiB).",
    )
    parser.add_argument(
        "--lend-server-key",
        action="store_true",
        default=None,
        help=(
            "Over HTTP, let requests without 'Authorization: Bearer <key>' use FLORA_API_KEY (env "
            "FLORA_LEND_SERVER_KEY; default off: they get 401). Anyone who reaches the port then spends on it."
        ),
    )
    limits = parser.add_argument_group("HTTP connection limits")
    limits.add_argument("--http-max-connections", type=int, metavar="N", help="Open connections (default 1000).")
    limits.add_argument("--http-max-concurrency", type=int, metavar="N", help="Requests handled at once (default 64).")
    limits.add_argument(
        "--http-max-slow-bodies", type=int, metavar="N", help="Bodies still arriving at once (default 32)."
    )
    limits.add_argument("--http-header-timeout", type=float, metavar="S", help="Seconds to send headers (default 10).")
    limits.add_argument("--http-body-timeout", type=float, metavar="S", help="Seconds to send a body (default 30).")
    limits.add_argument(
        "--http-write-timeout",
        type=float,
        metavar="S",
        help="Seconds a client may read nothing of an answer (default 30).",
    )
    limits.add_argument(
        "--http-max-large-reads",
        type=int,
        metavar="N",
        help="resources/read answers (an output's bytes) made and written at once (default 1).",
    )
    limits.add_argument("--http-idle-timeout", type=float, metavar="S", help="Keep-alive idle seconds (default 10).")

    parser.add_argument(
        "--output-dir",
        metavar="DIR",
        help="Save every completed output into DIR once (env FLORA_OUTPUT_DIR; default: nothing saved).",
    )
    parser.add_argument(
        "--input-dir",
        action="append",
        dest="input_dirs",
        metavar="DIR",
        help="A folder upload_asset may read local files from; repeatable (env FLORA_INPUT_DIRS; stdio only).",
    )
    parser.add_argument(
        "--state-url",
        metavar="URL",
        help=(
            "Where the run journal and spend ledger live: memory, sqlite:///path/state.db or "
            "postgresql://user@host/db (env FLORA_STATE_URL; default a SQLite file in the user's state directory)."
        ),
    )

    commands = parser.add_subparsers(dest="command", metavar="{sandbox,demo,spend}")
    sandbox = commands.add_parser("sandbox", help="Serve the local FLORA-compatible sandbox API.")
    sandbox.add_argument("--port", type=port_number, default=8787, dest="sandbox_port", help="Port (default 8787).")
    sandbox.add_argument("--host", default="127.0.0.1", dest="sandbox_host", help="Bind address.")
    commands.add_parser("demo", help="Start the server on the sandbox and narrate a session with a real client.")
    spend = commands.add_parser(
        "spend", help="Print FLORA_API_KEY's spend by day and by model or technique, from the state store."
    )
    spend.add_argument("--days", type=float, default=30.0, help="How many days back (default 30).")
    return parser


# Settings that a flag can also set: the field, and the flag that names it.
FLAG_OF = {
    "base_url": "--base-url",
    "timeout": "--timeout",
    "max_retries": "--max-retries",
    "log_level": "--log-level",
    "max_spend_usd": "--max-spend-usd",
    "confirm_above_usd": "--confirm-above-usd",
    "read_only": "--read-only",
    "max_request_bytes": "--max-request-bytes",
    "lend_server_key": "--lend-server-key",
    "http_max_connections": "--http-max-connections",
    "http_max_concurrency": "--http-max-concurrency",
    "http_max_slow_bodies": "--http-max-slow-bodies",
    "http_header_timeout": "--http-header-timeout",
    "http_body_timeout": "--http-body-timeout",
    "http_idle_timeout": "--http-idle-timeout",
    "http_write_timeout": "--http-write-timeout",
    "http_max_large_reads": "--http-max-large-reads",
    "output_dir": "--output-dir",
    "state_url": "--state-url",
    "input_dirs": "--input-dir",
}


def given_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the user gave as flags (argparse leaves the others None)."""
    given = {name: getattr(args, name, None) for name in FLAG_OF if getattr(args, name, None) is not None}
    dirs = given.get("input_dirs")
    if isinstance(dirs, list):  # --input-dir is repeatable; the setting is one string
        given["input_dirs"] = os.pathsep.join(dirs)
    return given


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings from the environment, with every flag the user gave taking precedence."""
    from flora_mcp.config import Settings

    return Settings.from_environment(**given_flags(args))


def setting_problems(exc: ValidationError, flags: Collection[str]) -> list[str]:
    """One sentence per refused setting, naming the flag (when given) or the FLORA_* variable and the fix.

    The user typed `--timeout` or `FLORA_TIMEOUT`, never the field `timeout`; pydantic's own
    wording ("Value error, ...", "Input should be ...") is turned into theirs. Values are not
    repeated (the key could be one).
    """
    sentences = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        name = FLAG_OF[field] if field in flags and field in FLAG_OF else f"FLORA_{field.upper()}"
        message = str(error["msg"]).removeprefix("Value error, ")
        if name in message or f"FLORA_{field.upper()}" in message:
            sentence = message  # our own validators already name the variable and say the fix
        else:
            detail = message.replace("Input should", "should", 1) if message.startswith("Input should") else message
            fix = "change the flag" if name.startswith("--") else "change or unset the variable"
            sentence = f"{name} {detail}; {fix}"
        sentences.append(f"flora-mcp: {sentence.rstrip('.')}.")
    return sentences


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    from pydantic import ValidationError

    from flora_mcp.logs import configure_logging

    try:
        settings = settings_from_args(args)
    except ValidationError as exc:
        sys.stderr.write("\n".join(setting_problems(exc, given_flags(args))) + "\n")
        raise SystemExit(2) from None
    configure_logging(settings.log_level)

    try:
        if args.command == "sandbox":
            _serve_sandbox(args.sandbox_host, args.sandbox_port, settings)
        elif args.command == "demo":
            _run_demo()
        elif args.command == "spend":
            _print_spend(settings, args.days)
        else:
            _serve_mcp(args, settings)
    except OSError as exc:
        # Binding the port is the usual one (in use, not allowed, an address not on this machine).
        sys.stderr.write(f"flora-mcp: cannot serve: {exc.strerror or exc}{_port_fix(exc)}\n")
        raise SystemExit(1) from None


def _port_fix(exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return "; another program holds that port: choose another --port (or --port 0 for any free one)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return "; that --host is not an address of this machine"
    if exc.errno == errno.EACCES:
        return "; ports below 1024 need privileges: choose a --port of 1024 or above"
    return ""


def _serve_sandbox(host: str, port: int, settings: Settings) -> None:
    from flora_mcp.sandbox import SandboxConfig, serve

    config = SandboxConfig(time_scale=settings.sandbox_time_scale)

    def announce(base_url: str) -> None:
        # Not an MCP server: stdout is the user's terminal here.
        sys.stdout.write(
            f"FLORA sandbox listening.\n  FLORA_BASE_URL={base_url}\n  FLORA_API_KEY={config.api_key}\n"
            "Point flora-mcp (or any FLORA client) at it with those two variables. Ctrl-C stops it.\n"
        )
        sys.stdout.flush()

    serve(port=port, host=host, config=config, ready=announce)


def _run_demo() -> None:
    import anyio

    from flora_mcp.demo import run_demo

    anyio.run(run_demo, sys.stdout)


def _store_failure(exc: Exception) -> SystemExit:
    """One line on stderr for a state store that cannot be used; the exit to raise."""
    text = str(exc)
    where = "" if "FLORA_STATE_URL" in text else " (FLORA_STATE_URL / --state-url)"
    sys.stderr.write(f"flora-mcp: cannot use the state store{where}: {text}\n")
    return SystemExit(2)


def _check_store(settings: Settings, sandbox: bool) -> None:
    """Open the configured store once (running its migrations) so a bad one fails here, in one line."""
    import anyio

    from flora_mcp.state import StoreError, open_store

    url = settings.store_url(sandbox=sandbox)

    async def check() -> None:
        async with open_store(url, secret=settings.state_secret_value()):
            pass

    try:
        anyio.run(check)
    except (StoreError, ValueError) as exc:
        raise _store_failure(exc) from None


def _print_spend(settings: Settings, days: float) -> None:
    import anyio

    from flora_mcp.spend_report import spend_report
    from flora_mcp.state import StoreError

    key = settings.api_key_value()
    if not key:
        sys.stderr.write("flora-mcp: spend needs FLORA_API_KEY: the report is of the caller that key names\n")
        raise SystemExit(2)
    if not days > 0:
        sys.stderr.write("flora-mcp: spend --days must be a number of days above 0\n")
        raise SystemExit(2)
    try:
        secret = settings.state_secret_value()
        report = anyio.run(lambda: spend_report(settings.state_url, key, secret=secret, days=days))
    except (StoreError, ValueError) as exc:
        raise _store_failure(exc) from None
    # Not an MCP server: stdout is the user's terminal here.
    sys.stdout.write(report + "\n")


def _store_error(exc: BaseException) -> Exception | None:
    """The StoreError that ended serving, also from inside an exception group, or None."""
    from flora_mcp.state import StoreError

    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            if (found := _store_error(inner)) is not None:
                return found
    return None


def _serve_mcp(args: argparse.Namespace, settings: Settings) -> None:
    """Decide what is served (the sandbox or FLORA, which store, whose key a keyless request may
    use) and hand the transport a factory of the server, which it builds once it is about to serve."""
    from flora_mcp.server import create_server
    from flora_mcp.server.wire.transports import run_http, run_stdio
    from flora_mcp.state import open_store

    sandbox = None
    if args.sandbox:
        from flora_mcp.sandbox import Sandbox, SandboxConfig

        sandbox = Sandbox(SandboxConfig(time_scale=settings.sandbox_time_scale))
    try:  # a FLORA_STATE_URL of no known form is refused here, before anything runs
        store = open_store(settings.store_url(sandbox=sandbox is not None), secret=settings.state_secret_value())
    except ValueError as exc:
        raise _store_failure(exc) from None

    def one_server(sandbox_url: str | None) -> Any:
        return create_server(settings, sandbox=sandbox, store=store, sandbox_url=sandbox_url)

    if args.transport == "stdio":
        try:
            # Over stdio the store opens as serving begins, before the first message is read, so a
            # store that cannot be used ends the start here, in one line (no separate check first:
            # opening it twice cost 12 ms of every cold start).
            run_stdio(one_server, settings)
        except BaseException as exc:
            found = _store_error(exc)
            if found is None:
                raise
            raise _store_failure(found) from None
        return
    # Over HTTP the store opens with the first session: check it now, so a bad one fails at start.
    _check_store(settings, sandbox=args.sandbox)

    def announce(line: str) -> None:
        # One plain line, whatever the log level: where to point a client (stdout stays unused).
        sys.stderr.write(line + "\n")
        sys.stderr.flush()

    run_http(
        one_server,
        settings,
        host=args.host,
        port=args.port,
        transport=args.transport,
        allowed_hosts=args.allowed_hosts,
        lending=_lending(settings, sandbox=sandbox is not None),
        # The sandbox is served once for the whole process (SSE would otherwise serve one per connection).
        beside=sandbox.serving if sandbox is not None else None,
        announce=announce,
    )


def _lending(settings: Settings, *, sandbox: bool) -> KeyLending:
    """Whether this process's own key serves HTTP requests without one: --lend-server-key, or the sandbox's.

    The sandbox's key spends nothing, so a sandbox behind a proxy costs no one anything.
    """
    from flora_mcp.server.wire.http_auth import KeyLending

    if sandbox:
        return KeyLending(has_server_key=True, lend=True, reason="the sandbox's key spends nothing")
    has_key = settings.api_key is not None
    return KeyLending(has_server_key=has_key, lend=has_key and settings.lend_server_key)
