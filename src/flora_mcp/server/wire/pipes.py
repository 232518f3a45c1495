"""stdin and stdout read and written on the event loop itself, when they are pipes or sockets.

The SDK's stdio transport reads each line and writes each answer in a worker thread (anyio's
`wrap_file`): three thread hand-offs per tool call (the read, the write, the flush), each about
0.13-0.17 ms on this kind of machine, on every call an agent makes. A pipe or a socket can
instead be set non-blocking and watched by the event loop (`add_reader` / `add_writer`), which
costs no hand-off at all. MCP clients start a stdio server with pipes, so that is the usual case.

Only pipes and sockets: a terminal's non-blocking flag is shared with the shell that owns it
(and would be left set if the process died), and a regular file is always "ready", so both
keep the threaded path. The flag is put back when serving ends.

`divert_stdout` keeps the promise the SDK's transport makes when it owns stdout: while serving,
fd 1 points at stderr, so a stray print (ours or a library's) cannot corrupt the wire, and the
wire is written through a private duplicate of the original fd 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import sys
from collections.abc import Iterator

if sys.platform != "win32":
    import fcntl

_READ_CHUNK = 64 * 1024


def is_pipe_or_socket(fd: int) -> bool:
    """Whether `fd` is a pipe (FIFO) or a socket: the kinds the event loop can wait on.

    Always False on Windows, whose event loop cannot watch a pipe: stdio keeps the threaded path.
    """
    if sys.platform == "win32":
        return False
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


@contextlib.contextmanager
def nonblocking(fd: int) -> Iterator[None]:
    """`fd` in non-blocking mode for the duration, then as it was."""
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, fcntl.F_SETFL, flags)


async def _ready(fd: int, *, write: bool) -> None:
    """Return when the event loop says `fd` can be read (or written) without blocking."""
    loop = asyncio.get_running_loop()
    ready = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    if write:
        loop.add_writer(fd, wake)
    else:
        loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        if write:
            loop.remove_writer(fd)
        else:
            loop.remove_reader(fd)


class PipeLineReader:
    """`readline(size)` over a non-blocking fd, with the meaning of `BufferedReader.readline(size)`.

    It returns up to `size` bytes ending at the first newline, fewer at end of input, and b""
    once the input is closed.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = bytearray()
        self._closed = False

    async def readline(self, size: int) -> bytes:
        searched = 0  # bytes already searched for a newline, not searched again
        while True:
            newline = self._buffer.find(b"\n", searched, size)
            if newline >= 0:
                return self._take(newline + 1)
            if len(self._buffer) >= size:
                return self._take(size)
            if self._closed:
                return self._take(len(self._buffer))
            searched = len(self._buffer)
            await self._fill()

    async def _fill(self) -> None:
        while True:
            try:
                chunk = os.read(self._fd, _READ_CHUNK)
            except BlockingIOError:
                await _ready(self._fd, write=False)
                continue
            if chunk:
                self._buffer += chunk
            else:
                self._closed = True
            return

    def _take(self, count: int) -> bytes:
        taken = bytes(self._buffer[:count])
        del self._buffer[:count]
        return taken


class PipeTextWriter:
    """What the SDK's transport writes answers to (`await write(text)`, `await flush()`), on a non-blocking fd."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    async def write(self, text: str) -> int:
        data = memoryview(text.encode("utf-8"))
        while data:
            try:
                sent = os.write(self._fd, data)
            except BlockingIOError:
                # The client is not reading fast enough: wait for room instead of buffering without end.
                await _ready(self._fd, write=True)
                continue
            data = data[sent:]
        return len(text)

    async def flush(self) -> None:
        """Nothing is buffered here: every write has reached the pipe when it returns."""


@contextlib.contextmanager
def divert_stdout() -> Iterator[int]:
    """Point fd 1 at stderr while serving; yields a private duplicate of the original fd 1 (the wire)."""
    wire = fcntl.fcntl(1, fcntl.F_DUPFD_CLOEXEC, 3)
    try:
        os.dup2(2, 1)
        try:
            yield wire
        finally:
            os.dup2(wire, 1)
    finally:
        os.close(wire)
