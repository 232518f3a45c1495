"""The command line refuses bad values with a message that names the flag, never a traceback."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys

import pytest

from flora_mcp.cli import build_parser


@pytest.mark.parametrize("port", ["99999", "-1", "eighty"])
def test_a_port_out_of_range_is_refused_naming_the_flag(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["--transport", "streamable-http", "--port", port])
    assert exited.value.code == 2
    assert "argument --port" in capsys.readouterr().err


def test_the_sandbox_command_checks_its_port_too(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["sandbox", "--port", "70000"])
    assert "argument --port" in capsys.readouterr().err


def test_a_port_already_in_use_is_a_one_line_error_not_a_traceback() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "flora_mcp", "sandbox", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert "cannot serve" in done.stderr
    assert "Traceback" not in done.stderr


def _run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("FLORA_")}
    return subprocess.run(
        [sys.executable, "-m", "flora_mcp", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**base, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (
            [],
            {"FLORA_SANDBOX_TIME_SCALE": "99"},
            "flora-mcp: FLORA_SANDBOX_TIME_SCALE should be less than or equal to 10",
        ),
        ([], {"FLORA_TIMEOUT": "soon"}, "flora-mcp: FLORA_TIMEOUT should be a valid number"),
        (["--timeout", "-1"], {}, "flora-mcp: --timeout should be greater than 0; change the flag."),
        ([], {"FLORA_BASE_URL": "ftp://x"}, "flora-mcp: FLORA_BASE_URL must start with https://"),
        ([], {"FLORA_HTTP_MAX_CONNECTIONS": "2"}, "flora-mcp: FLORA_HTTP_MAX_CONNECTIONS should be greater than"),
    ],
)
def test_a_bad_setting_is_one_sentence_naming_the_flag_or_variable(
    args: list[str], env: dict[str, str], expected: str
) -> None:
    done = _run(*args, env=env)
    assert done.returncode == 2
    assert done.stderr.startswith(expected)
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Value error" not in done.stderr and "validation error" not in done.stderr
    assert "sandbox_time_scale" not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("key", ["sk-live\x01abc", "sk-live\x00abc", "sk-li ve"])
def test_a_key_with_control_characters_refuses_to_start_naming_flora_api_key(key: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import sys, os; os.environ['FLORA_API_KEY'] = sys.argv[1]; "
         "from flora_mcp.cli import main; main([])", key.replace("\x00", "\x02")],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("flora-mcp: FLORA_API_KEY contains")
    assert "sk-li" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_key_with_a_trailing_crlf_is_stripped_with_a_warning_and_serves() -> None:
    done = _run("--sandbox", env={"FLORA_API_KEY": "sk-live-abc\r\n", "FLORA_LOG_LEVEL": "ERROR"})
    assert done.returncode == 0, done.stderr  # stdin closed at once: a clean stdio session
    assert "FLORA_API_KEY had spaces or a line break around it" in done.stderr
    assert "sk-live-abc" not in done.stderr


def _first_line(process: subprocess.Popen[str]) -> str:
    assert process.stderr is not None
    line = process.stderr.readline()
    return line


@pytest.mark.parametrize("transport", ["streamable-http", "sse"])
def test_http_start_prints_one_line_with_the_url_of_the_port_it_got_and_of_the_sandbox(transport: str) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("FLORA_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "flora_mcp", "--transport", transport, "--port", "0", "--sandbox"],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=base,
    )  # fmt: skip
    try:
        line = _first_line(process)
        match = re.fullmatch(
            r"flora-mcp: MCP \((\S+)\) at (http://127\.0\.0\.1:(\d+)/(mcp|sse)); sandbox FLORA API at "
            r"(http://127\.0\.0\.1:(\d+)/api/v1); requests without a key use the server's key "
            r"\(the sandbox's key spends nothing\)\n",
            line,
        )
        assert match, line
        assert match.group(1) == transport and int(match.group(3)) > 0 and match.group(3) != match.group(6)
        path = "/sse" if transport == "sse" else "/mcp"
        assert match.group(2).endswith(path)
        # The sandbox URL is live (its key is in the sandbox's docs; an unauthenticated read is a 401).
        with socket.create_connection(("127.0.0.1", int(match.group(6))), timeout=5):
            pass
        with socket.create_connection(("127.0.0.1", int(match.group(3))), timeout=5):
            pass
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert process.stdout is not None and process.stdout.read() == ""


def test_the_mcp_http_port_in_use_is_a_plain_one_line_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _run("--transport", "streamable-http", "--port", str(port))
    assert done.returncode == 1
    assert done.stderr.startswith("flora-mcp: cannot serve: ")
    assert "--port 0" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not done.stderr.lstrip().startswith("{")  # not a JSON log line
