"""stdin and stdout on the event loop (server/wire/pipes.py): the same lines, every byte, a clean wire."""

from __future__ import annotations

import fcntl
import io
import os
import random
import subprocess
import sys
import textwrap

import anyio
import anyio.lowlevel
import pytest

from flora_mcp.server.wire.pipes import PipeLineReader, PipeTextWriter, is_pipe_or_socket, nonblocking

pytestmark = pytest.mark.anyio

SAMPLE = (
    b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n'
    + b"x" * 300
    + b"\n\n"
    + b'{"id": 2, "text": "caf\xc3\xa9"}\n'
    + b"y" * 5000
    + b"\n"
    + b"no newline at the end"
)


def expected_lines(data: bytes, size: int) -> list[bytes]:
    reader = io.BufferedReader(io.BytesIO(data))
    lines = []
    while line := reader.readline(size):
        lines.append(line)
    return lines


@pytest.mark.parametrize("size", [1, 7, 64, 301, 4096, 1 << 20])
async def test_lines_read_on_the_loop_are_those_a_blocking_readline_gives(size: int) -> None:
    read_fd, write_fd = os.pipe()
    chunks = random.Random(size)

    async def feed() -> None:
        view = memoryview(SAMPLE)
        while view:
            step = chunks.randint(1, 900)
            os.write(write_fd, view[:step])
            view = view[step:]
            await anyio.lowlevel.checkpoint()
        os.close(write_fd)

    lines: list[bytes] = []
    with nonblocking(read_fd):
        reader = PipeLineReader(read_fd)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(feed)
            while line := await reader.readline(size):
                lines.append(line)
    os.close(read_fd)
    assert lines == expected_lines(SAMPLE, size)


async def test_a_large_answer_reaches_a_slow_reader_whole_and_in_order() -> None:
    read_fd, write_fd = os.pipe()  # a pipe holds 64 KiB: the writer must wait for room many times
    message = "".join(f"{n:07d}é" for n in range(300_000))  # 2.4 MB, not ASCII
    received = bytearray()

    def drain() -> None:
        with os.fdopen(read_fd, "rb", buffering=0) as pipe:
            while chunk := pipe.read(10_000):
                received.extend(chunk)

    with nonblocking(write_fd):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(anyio.to_thread.run_sync, drain)
            await PipeTextWriter(write_fd).write(message)
            os.close(write_fd)
    assert received.decode("utf-8") == message


def test_the_blocking_flag_is_put_back() -> None:
    read_fd, write_fd = os.pipe()
    try:
        assert is_pipe_or_socket(read_fd)
        before = fcntl.fcntl(read_fd, fcntl.F_GETFL)
        with nonblocking(read_fd):
            assert fcntl.fcntl(read_fd, fcntl.F_GETFL) & os.O_NONBLOCK
        assert fcntl.fcntl(read_fd, fcntl.F_GETFL) == before
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_a_regular_file_is_not_taken_for_a_pipe() -> None:
    with open(__file__, "rb") as plain:
        assert not is_pipe_or_socket(plain.fileno())


def test_a_stray_print_while_serving_goes_to_stderr_never_onto_the_wire() -> None:
    script = textwrap.dedent(
        """
        import os
        from flora_mcp.server.wire.pipes import divert_stdout
        with divert_stdout() as wire:
            print("stray", flush=True)
            os.write(1, b"stray too\\n")
            os.write(wire, b"on the wire\\n")
        print("after serving", flush=True)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60, check=True)
    assert done.stdout == b"on the wire\nafter serving\n"
    assert b"stray\n" in done.stderr and b"stray too\n" in done.stderr
