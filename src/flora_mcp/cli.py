"""The `flora-mcp` command: serve the MCP server, serve the sandbox, or run the demo.

    flora-mcp [--transport stdio|streamable-http|sse] [--host H] [--port N] [--sandbox] ...
    flora-mcp sandbox [--port N]      serve the local FLORA-compatible API
    flora-mcp demo                    a narrated session against the sandbox

Flags override FLORA_* environment variables, which override defaults. In stdio mode stdout is
the MCP wire, so everything this module says goes to stderr; only `sandbox` and `demo`, which
are not MCP servers, write to stdout.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from flora_mcp import __version__

if TYPE_CHECKING:
    from flora_mcp.config import Settings

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
        "--output-dir",
        metavar="DIR",
        help="Save every completed output into DIR once (env FLORA_OUTPUT_DIR; default: nothing saved).",
    )

    commands = parser.add_subparsers(dest="command", metavar="{sandbox,demo}")
    sandbox = commands.add_parser("sandbox", help="Serve the local FLORA-compatible sandbox API.")
    sandbox.add_argument("--port", type=port_number, default=8787, dest="sandbox_port", help="Port (default 8787).")
    sandbox.add_argument("--host", default="127.0.0.1", dest="sandbox_host", help="Bind address.")
    commands.add_parser("demo", help="Start the server on the sandbox and narrate a session with a real client.")
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings from the environment, with every flag the user gave taking precedence."""
    from flora_mcp.config import Settings

    flags: dict[str, Any] = {
        "base_url": args.base_url,
        "timeout": args.timeout,
        "max_retries": args.max_retries,
        "log_level": args.log_level,
        "max_spend_usd": args.max_spend_usd,
        "confirm_above_usd": args.confirm_above_usd,
        "read_only": args.read_only,
        "max_request_bytes": args.max_request_bytes,
        "output_dir": args.output_dir,
    }
    return Settings(**{name: value for name, value in flags.items() if value is not None})


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    from pydantic import ValidationError

    from flora_mcp.logs import configure_logging

    try:
        settings = settings_from_args(args)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        sys.stderr.write(f"flora-mcp: bad setting: {problems}\n")
        raise SystemExit(2) from None
    configure_logging(settings.log_level)

    try:
        if args.command == "sandbox":
            _serve_sandbox(args.sandbox_host, args.sandbox_port, settings)
        elif args.command == "demo":
            _run_demo()
        else:
            _serve_mcp(args, settings)
    except OSError as exc:
        # Binding the port is the usual one (in use, not allowed, an address not on this machine).
        sys.stderr.write(f"flora-mcp: cannot serve: {exc.strerror or exc}\n")
        raise SystemExit(1) from None


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


def _skip_httpx_command_line() -> None:
    """Keep httpx from importing its own command line (click, rich, pygments) into the server.

    `import httpx` tries `from httpx._main import main`, the `httpx` command, and pays about
    30 ms of a 600 ms cold start for it (benchmarks item 1). The server never runs that command,
    so its module is marked absent before httpx is first imported; httpx then falls back to the
    stub it defines for installs without the command-line extra. Only this process, which is a
    server we started, is affected; the `httpx` command itself runs in a process of its own.
    """
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


def _serve_mcp(args: argparse.Namespace, settings: Settings) -> None:
    _skip_httpx_command_line()
    from flora_mcp.server import create_server
    from flora_mcp.server.wire.transports import run_http, run_stdio

    sandbox = None
    if args.sandbox:
        from flora_mcp.sandbox import Sandbox, SandboxConfig

        sandbox = Sandbox(SandboxConfig(time_scale=settings.sandbox_time_scale))
    server = create_server(settings, sandbox=sandbox)
    if args.transport == "stdio":
        run_stdio(server, settings)
    else:
        run_http(
            server,
            settings,
            host=args.host,
            port=args.port,
            transport=args.transport,
            allowed_hosts=args.allowed_hosts,
        )
