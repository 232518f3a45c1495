"""Technique inputs of every type FLORA declares (text, the URL types, json), started through the tools.

The top-level route (workspace_id and a tech_ id) carries every type and any JSON value; the
nested route documents text, imageUrl and videoUrl with string values, so the rest is refused
there before anything is sent, naming the fix.
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from flora_mcp.sandbox import Sandbox

from .support import POSTER, WORKSPACE, call_error, call_ok, call_refused_unsent, total_requests

pytestmark = pytest.mark.anyio

SLIDES = "tech_sandboxslides"  # declares a documentUrl input (deck) and an audioUrl input (narration)
DECK = "https://media.flora.ai/deck.pdf"
NARRATION = "https://media.flora.ai/narration.mp3"


def slides_inputs(**types: str) -> list[dict[str, Any]]:
    return [
        {"id": "deck", "type": types.get("deck", "documentUrl"), "value": DECK},
        {"id": "narration", "type": types.get("narration", "audioUrl"), "value": NARRATION},
    ]


async def test_audio_and_document_inputs_start_on_the_top_level_route(client: Client, sandbox: Sandbox) -> None:
    arguments = {"technique_id": SLIDES, "workspace_id": WORKSPACE, "inputs": slides_inputs()}
    result = await call_ok(client, "start_technique_run", arguments)
    assert sandbox.requests["POST /runs/technique"] == 1
    assert sandbox.runs[-1].inputs == {"deck": DECK, "narration": NARRATION}
    assert (result.structured_content or {})["quote_usd"] == pytest.approx(0.3)


async def test_a_json_input_goes_as_json_on_the_top_level_route(client: Client, sandbox: Sandbox) -> None:
    # A list is a json input's one value, not several (layout does not set allow_multiple).
    layout = [{"columns": 2, "gutter": 0.5}, None, True]
    inputs = [{"id": "subject", "type": "text", "value": "a fox"}, {"id": "layout", "type": "json", "value": layout}]
    await call_ok(client, "start_technique_run", {"technique_id": POSTER, "workspace_id": WORKSPACE, "inputs": inputs})
    assert sandbox.runs[-1].inputs == {"subject": "a fox", "layout": layout}


@pytest.mark.parametrize(
    ("technique_id", "inputs", "where", "declared"),
    [
        (SLIDES, slides_inputs(deck="imageUrl"), "inputs.deck", "documentUrl"),
        (SLIDES, slides_inputs(narration="videoUrl"), "inputs.narration", "audioUrl"),
        (
            POSTER,
            [{"id": "subject", "type": "text", "value": "a fox"}, {"id": "layout", "type": "text", "value": "{}"}],
            "inputs.layout",
            "json",
        ),
    ],
    ids=["document-as-image", "audio-as-video", "json-as-text"],
)
async def test_a_type_other_than_the_declared_one_is_refused_with_nothing_sent(
    client: Client, sandbox: Sandbox, technique_id: str, inputs: list[dict[str, Any]], where: str, declared: str
) -> None:
    await call_ok(client, "get_technique", {"technique_id": technique_id})  # the check's catalog read, free
    text = await call_refused_unsent(
        client,
        sandbox,
        "start_technique_run",
        {"technique_id": technique_id, "workspace_id": WORKSPACE, "inputs": inputs},
    )
    assert f"{where}: has type" in text and f"the input is of type {declared}: give type {declared}" in text
    assert "Nothing was sent" in text and not sandbox.runs


@pytest.mark.parametrize("value", ["narration.mp3", "ftp://media.flora.ai/a.mp3", 5])
async def test_an_audio_input_that_is_not_an_http_url_is_refused(
    client: Client, sandbox: Sandbox, value: object
) -> None:
    inputs = [
        {"id": "deck", "type": "documentUrl", "value": DECK},
        {"id": "narration", "type": "audioUrl", "value": value},
    ]
    text = await call_error(
        client, "start_technique_run", {"technique_id": SLIDES, "workspace_id": WORKSPACE, "inputs": inputs}
    )
    assert "inputs.narration: must be an http(s) URL (audioUrl)" in text
    assert sandbox.requests["POST /runs/technique"] == 0 and not sandbox.runs


@pytest.mark.parametrize(
    ("inputs", "what"),
    [
        (
            [{"id": "subject", "type": "text", "value": "a fox"}, {"id": "layout", "type": "json", "value": {"a": 1}}],
            "'layout' is of type json",
        ),
        (
            [{"id": "subject", "type": "text", "value": "a fox"}, {"id": "layout", "type": "json", "value": "{}"}],
            "'layout' is of type json",
        ),
        ([{"id": "subject", "type": "text", "value": 5}], "'subject' has a non-text value"),
    ],
    ids=["json-object", "json-string", "number-as-text"],
)
async def test_a_json_value_on_the_nested_route_is_refused_naming_the_fix(
    client: Client, sandbox: Sandbox, inputs: list[dict[str, Any]], what: str
) -> None:
    # No workspace_id: only the nested route is left, and its inputs carry string values only.
    text = await call_refused_unsent(client, sandbox, "start_technique_run", {"technique_id": POSTER, "inputs": inputs})
    assert what in text and "nested technique route" in text
    assert "Give workspace_id with a tech_ id" in text and "POST /runs/technique" in text


async def test_audio_and_document_inputs_on_the_nested_route_are_refused_naming_the_fix(
    client: Client, sandbox: Sandbox
) -> None:
    before = total_requests(sandbox)
    text = await call_error(
        client, "start_technique_run", {"technique_id": "narrated-slides", "inputs": slides_inputs()}
    )
    assert "'deck' is of type documentUrl" in text and "Give workspace_id with a tech_ id" in text
    assert total_requests(sandbox) == before


async def test_a_slug_with_a_workspace_carries_audio_and_document_inputs(client: Client, sandbox: Sandbox) -> None:
    arguments = {"technique_id": "narrated-slides", "workspace_id": WORKSPACE, "inputs": slides_inputs()}
    await call_ok(client, "start_technique_run", arguments)
    assert sandbox.requests["POST /runs/technique"] == 1
    assert sandbox.runs[-1].inputs == {"deck": DECK, "narration": NARRATION}
