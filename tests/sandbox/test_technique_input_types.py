"""The sandbox takes technique inputs of every declared type as FLORA does: all on the top-level
route (a URL type as an http(s) URL, json as any JSON value), text/imageUrl/videoUrl on the nested one."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from flora_mcp.api.models import ErrorEnvelope, Technique

pytestmark = pytest.mark.anyio

DECK = "https://media.flora.ai/deck.pdf"
NARRATION = "https://media.flora.ai/narration.mp3"


def fields_of(response: httpx2.Response) -> tuple[int, list[str]]:
    error = ErrorEnvelope.model_validate(response.json()).error
    return response.status_code, [f.field for f in error.fields or ()]


async def test_a_technique_declares_audio_and_document_inputs(client: httpx2.AsyncClient) -> None:
    technique = Technique.model_validate((await client.get("/techniques/narrated-slides")).json())
    assert technique.technique_id == "tech_sandboxslides"
    assert {i.id: i.type for i in technique.inputs or []} == {"deck": "documentUrl", "narration": "audioUrl"}


async def test_the_top_level_route_takes_audio_document_and_json_inputs(client: httpx2.AsyncClient) -> None:
    slides = {"technique_id": "tech_sandboxslides", "workspace_id": "ws_sandbox"}
    response = await client.post("/runs/technique", json={**slides, "inputs": {"deck": DECK, "narration": NARRATION}})
    assert response.status_code == 200, response.text
    poster = {"technique_id": "tech_sandboxposter", "workspace_id": "ws_sandbox"}
    inputs: dict[str, Any] = {"subject": "a fox", "layout": {"columns": [1, 2], "bleed": None}}
    assert (await client.post("/runs/technique", json={**poster, "inputs": inputs})).status_code == 200


async def test_an_audio_or_document_input_must_be_an_http_url(client: httpx2.AsyncClient) -> None:
    body = {"technique_id": "tech_sandboxslides", "workspace_id": "ws_sandbox"}
    response = await client.post("/runs/technique", json={**body, "inputs": {"deck": "deck.pdf", "narration": 3}})
    assert fields_of(response) == (400, ["inputs.deck", "inputs.narration"])


async def test_the_nested_route_refuses_the_types_it_does_not_document(client: httpx2.AsyncClient) -> None:
    inputs = [
        {"id": "deck", "type": "documentUrl", "value": DECK},
        {"id": "narration", "type": "audioUrl", "value": NARRATION},
    ]
    response = await client.post("/techniques/narrated-slides/runs", json={"inputs": inputs, "mode": "async"})
    assert fields_of(response) == (400, ["inputs[0].type", "inputs[1].type"])
