"""Completed outputs saved as files in FLORA_OUTPUT_DIR (--output-dir), each once.

A file is named by its run and output (`run_abc_output_1.png`, ids reduced to safe characters)
and written atomically: the bytes go to a temporary file in the same folder, which is then
hard-linked to its name. A link never replaces an existing file, so two writers cannot
clobber each other and a file that is already there is never overwritten: when it holds the
same bytes it is the saved copy, when it holds different ones the new file gets a `-2`, `-3`
suffix instead.

Whatever already sits in the folder is only looked at, never waited on: a name is opened with
O_NONBLOCK and O_NOFOLLOW and compared only when it is a regular file, so a FIFO, a device or a
symlink under an output's name is just "a different file" (the output gets the next suffix).
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import stat
import tempfile
from pathlib import Path

from pydantic import BaseModel, Field

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "video/mp4": ".mp4",
    "video/webm": ".webm",
    "audio/mpeg": ".mp3",
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
}


class SavedFile(BaseModel):
    """One output saved on disk."""

    output_id: str
    path: str = Field(description="Absolute path of the saved file.")
    uri: str = Field(description="The same file as a file:// URL.")
    bytes: int
    mime_type: str


def extension_for(mime_type: str, url: str | None = None) -> str:
    """A file extension for `mime_type`, else the URL's own, else `.bin`."""
    known = _EXTENSIONS.get(mime_type.split(";", 1)[0].strip().lower()) or mimetypes.guess_extension(mime_type)
    if known:
        return known
    if url:
        suffix = Path(url.split("?", 1)[0]).suffix
        if re.fullmatch(r"\.[A-Za-z0-9]{1,8}", suffix):
            return suffix.lower()
    return ".bin"


def file_stem(run_id: str, output_id: str) -> str:
    """`<run>_<output>` with anything but letters, digits, `_`, `.` and `-` replaced, never hidden."""
    stem = f"{_UNSAFE.sub('-', run_id)}_{_UNSAFE.sub('-', output_id)}".strip(".")[:180]
    return stem or "output"


_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)


def _same_bytes(path: Path, digest: bytes, size: int) -> bool:
    """Whether `path` is a regular file holding exactly these bytes; never blocks on what it is.

    Opening a FIFO for reading without O_NONBLOCK waits for a writer forever; with it, the open
    returns at once and fstat shows it is not a regular file.
    """
    try:
        handle = os.open(path, _READ_FLAGS)
    except OSError:
        return False  # absent, a symlink (ELOOP), unreadable: not the saved copy
    try:
        info = os.fstat(handle)
        if not stat.S_ISREG(info.st_mode) or info.st_size != size:
            return False
        hashed = hashlib.sha256()
        while chunk := os.read(handle, 1 << 20):
            hashed.update(chunk)
        return hashed.digest() == digest
    except OSError:
        return False
    finally:
        os.close(handle)


def save_output(
    directory: Path, run_id: str, output_id: str, data: bytes, mime_type: str, url: str | None = None
) -> SavedFile:
    """Save `data` as the file of (run_id, output_id) in `directory`; see the module docstring.

    Raises OSError when the folder cannot be created or written.
    """
    directory = directory.expanduser().resolve()
    directory.mkdir(parents=True, exist_ok=True)
    stem, suffix = file_stem(run_id, output_id), extension_for(mime_type, url)
    digest = hashlib.sha256(data).digest()
    handle, temporary = tempfile.mkstemp(prefix=".partial-", dir=directory)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        for attempt in range(1, 1000):
            target = directory / (stem + (f"-{attempt}" if attempt > 1 else "") + suffix)
            if _same_bytes(target, digest, len(data)):
                break  # saved before (this process or an earlier one)
            try:
                os.link(temporary, target)
            except FileExistsError:
                continue  # a different file holds this name: never overwrite it
            break
        else:
            raise OSError(f"too many different files named {stem}*{suffix} in {directory}")
    finally:
        Path(temporary).unlink(missing_ok=True)
    return SavedFile(output_id=output_id, path=str(target), uri=target.as_uri(), bytes=len(data), mime_type=mime_type)
