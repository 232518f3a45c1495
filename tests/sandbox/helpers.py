"""Helpers the sandbox tests share: the key, the fake clock's start and typical request bodies."""

from __future__ import annotations

KEY = "sk-sandbox"
START_TIME = 1_750_000_000.0  # where the sandbox tests' FakeClock (tests/fake_clock.py) starts


def generation_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "workspace_id": "ws_sandbox",
        "project_id": "prj_sandbox",
        "prompt": "A ceramic mug on a sunlit table",
        "type": "image",
    }
    body.update(overrides)
    return body


def nested_body(subject: str = "a lighthouse", **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {"inputs": [{"id": "subject", "type": "text", "value": subject}], "mode": "async"}
    body.update(overrides)
    return body
