"""Idempotency keys: the one place they are made.

A start the agent sends without a key gets one derived from who is calling, which tool, and
the canonical arguments, so the same call re-sent (a client that timed out, a broken response
stream, ten identical calls at once, another replica) carries the same key and FLORA cannot
start it twice. The derivation includes the repeat window's time bucket: the same arguments
sent again long after the window are a new start on purpose, under a new key. (A re-send that
straddles a bucket boundary is still caught: the booking also looks the start up by its
arguments within the window.)
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

KEY_PREFIX = "flora-mcp-"


def _plain(value: Any) -> Any:
    """`value` as JSON-ready data: models dumped, mappings and lists walked."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def arguments_digest(tool: str, arguments: Mapping[str, Any]) -> str:
    """A digest of a start's canonical arguments (sorted keys, no whitespace, nulls dropped)."""
    canonical = json.dumps({"tool": tool, "arguments": _plain(arguments)}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def derived_key(caller: str, tool: str, digest: str, now: float, window_seconds: float) -> str:
    """The key of a start sent without one: the same for the same caller, tool and arguments within a bucket."""
    bucket = math.floor(now / window_seconds)
    material = f"{caller}\n{tool}\n{digest}\n{bucket}"
    return KEY_PREFIX + hashlib.sha256(material.encode()).hexdigest()[:32]


def fresh_key() -> str:
    """A key for a start the agent wants as a new run even though it repeats an earlier one."""
    return KEY_PREFIX + uuid.uuid4().hex


def item_key(batch_key: str, index: int, digest: str) -> str:
    """The key of one item of a batch: the batch's key, the item's place and its arguments.

    The same batch sent again (same key, or the same derived key) gives every item the key it
    had, so no item starts twice; a batch key reused with other items gives them other keys.
    """
    material = f"{batch_key}\n{index}\n{digest}"
    return KEY_PREFIX + hashlib.sha256(material.encode()).hexdigest()[:32]
