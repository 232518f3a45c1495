"""The read-only routes: every answer parses with the client's models; filters and paging work."""

from __future__ import annotations

import httpx2
import pytest

from flora_mcp.api.models import (
    GenerationList,
    ModelList,
    ProjectList,
    Technique,
    TechniqueList,
    TechniqueRunList,
    WorkspaceList,
)
from tests.fake_clock import FakeClock

from .helpers import generation_body, nested_body

pytestmark = pytest.mark.anyio


async def test_workspaces_list_the_sandbox_workspace(client: httpx2.AsyncClient) -> None:
    workspaces = WorkspaceList.model_validate((await client.get("/workspaces")).json())

    assert [(w.workspace_id, w.name) for w in workspaces.workspaces] == [("ws_sandbox", "Sandbox workspace")]


async def test_projects_of_the_workspace_page_with_an_opaque_cursor(client: httpx2.AsyncClient) -> None:
    first = ProjectList.model_validate(
        (await client.get("/projects", params={"workspace_id": "ws_sandbox", "limit": 2})).json()
    )
    assert first.meta.next_cursor
    second = ProjectList.model_validate(
        (
            await client.get(
                "/projects", params={"workspace_id": "ws_sandbox", "limit": 2, "cursor": first.meta.next_cursor}
            )
        ).json()
    )

    ids = [p.project_id for p in first.projects + second.projects]
    assert ids[0] == "prj_sandbox"
    assert len(ids) == len(set(ids)) == 3
    assert second.meta.next_cursor is None
    assert first.meta.total_estimate == 3
    assert all(p.workspace_id == "ws_sandbox" for p in first.projects)


async def test_projects_can_be_searched_by_name(client: httpx2.AsyncClient) -> None:
    found = ProjectList.model_validate(
        (await client.get("/projects", params={"workspace_id": "ws_sandbox", "query": "mood"})).json()
    )

    assert [p.name for p in found.projects] == ["Moodboard"]


async def test_projects_need_a_workspace_id(client: httpx2.AsyncClient) -> None:
    response = await client.get("/projects")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == [{"field": "workspace_id", "message": "Required"}]


async def test_projects_of_a_workspace_the_key_cannot_see_are_not_found(client: httpx2.AsyncClient) -> None:
    response = await client.get("/projects", params={"workspace_id": "ws_someoneelse"})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_models_list_a_text_model_first_per_type_then_the_source_media_models(
    client: httpx2.AsyncClient,
) -> None:
    models = ModelList.model_validate((await client.get("/models")).json())

    assert [m.model_id for m in models.models] == [
        "t2i-sandbox-image",
        "t2v-sandbox-video",
        "t2a-sandbox-audio",
        "t2t-sandbox-text",
        "i2i-sandbox-edit",
        "i2v-sandbox-animate",
        "r2v-sandbox-references",
        "i2t-sandbox-describe",
        "v2t-sandbox-watch",
    ]
    # As at FLORA, the source media params the ids imply are not listed.
    listed = {p.name for m in models.models for p in m.params or []}
    assert not listed & {"image_url", "image_urls", "video_urls"}
    image = next(m for m in models.models if m.type == "image")
    assert image.params is not None
    assert image.params[0].name == "aspect_ratio"
    assert [o["value"] for o in image.params[0].options or []] == ["1:1", "16:9", "9:16"]  # FLORA: {label, value}
    assert image.params[0].default == "1:1"
    video = next(m for m in models.models if m.type == "video")
    assert video.params is not None and (video.params[0].min, video.params[0].max) == (2, 10)


async def test_models_filter_by_type(client: httpx2.AsyncClient) -> None:
    models = ModelList.model_validate((await client.get("/models", params={"type": "audio"})).json())

    assert [m.model_id for m in models.models] == ["t2a-sandbox-audio"]


async def test_techniques_list_and_search(client: httpx2.AsyncClient) -> None:
    everything = TechniqueList.model_validate((await client.get("/techniques")).json())
    captions = TechniqueList.model_validate((await client.get("/techniques", params={"query": "caption"})).json())

    assert {t.technique_id for t in everything.techniques} == {
        "tech_sandboxposter",
        "tech_sandboxclip",
        "tech_sandboxcaption",
        "tech_sandboxstoryboard",
        "tech_sandboxslides",
    }
    assert [t.slug for t in captions.techniques] == ["caption-writer"]


async def test_a_technique_is_found_by_id_or_slug_with_its_inputs_and_cost(client: httpx2.AsyncClient) -> None:
    by_id = Technique.model_validate((await client.get("/techniques/tech_sandboxclip")).json())
    by_slug = Technique.model_validate((await client.get("/techniques/product-clip")).json())

    assert by_id == by_slug
    assert by_id.run_cost == 0.9
    assert by_id.inputs is not None
    assert [(i.id, i.type, i.optional) for i in by_id.inputs] == [
        ("product_image", "imageUrl", False),
        ("mood", "text", True),
    ]
    assert by_id.outputs is not None and by_id.outputs[0].type == "videoUrl"


async def test_an_unknown_technique_is_not_found(client: httpx2.AsyncClient) -> None:
    response = await client.get("/techniques/no-such-thing")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_technique_runs_are_listed_newest_first_with_their_technique(
    client: httpx2.AsyncClient, clock: FakeClock
) -> None:
    first = (await client.post("/techniques/poster-maker/runs", json=nested_body("one"))).json()["run_id"]
    clock.advance(1)
    second = (await client.post("/techniques/poster-maker/runs", json=nested_body("two"))).json()["run_id"]

    listing = TechniqueRunList.model_validate((await client.get("/technique-runs")).json())

    assert [item.run_id for item in listing.technique_runs] == [second, first]
    item = listing.technique_runs[0]
    assert item.technique_run_id == second
    assert (item.workspace_id, item.project_id) == ("ws_sandbox", "prj_sandbox")
    assert item.technique is not None and item.technique.technique_id == "tech_sandboxposter"
    assert item.poll_url is not None and item.poll_url.endswith(f"/techniques/tech_sandboxposter/runs/{second}")
    assert listing.meta.total_estimate == 2


async def test_technique_run_pages_neither_repeat_nor_skip_when_runs_start_while_paging(
    client: httpx2.AsyncClient,
) -> None:
    started = [
        (await client.post("/techniques/poster-maker/runs", json=nested_body())).json()["run_id"] for _ in range(5)
    ]

    first = TechniqueRunList.model_validate((await client.get("/technique-runs", params={"limit": 2})).json())
    await client.post("/techniques/poster-maker/runs", json=nested_body())
    seen = [item.run_id for item in first.technique_runs]
    cursor = first.meta.next_cursor
    while cursor:
        page = TechniqueRunList.model_validate(
            (await client.get("/technique-runs", params={"limit": 2, "cursor": cursor})).json()
        )
        seen += [item.run_id for item in page.technique_runs]
        cursor = page.meta.next_cursor

    assert seen == list(reversed(started))


async def test_technique_runs_filter_by_technique_slug_and_status(client: httpx2.AsyncClient, clock: FakeClock) -> None:
    caption = (
        await client.post(
            "/techniques/caption-writer/runs",
            json={"inputs": [{"id": "image", "type": "imageUrl", "value": "https://x.test/a.png"}], "mode": "async"},
        )
    ).json()["run_id"]
    await client.post("/techniques/poster-maker/runs", json=nested_body())

    by_technique = TechniqueRunList.model_validate(
        (await client.get("/technique-runs", params={"technique_id": "caption-writer"})).json()
    )
    completed = TechniqueRunList.model_validate(
        (await client.get("/technique-runs", params={"status": "completed"})).json()
    )

    assert [item.run_id for item in by_technique.technique_runs] == [caption]
    assert completed.technique_runs == []


async def test_a_bad_status_filter_is_a_field_error(client: httpx2.AsyncClient) -> None:
    response = await client.get("/technique-runs", params={"status": "done"})

    assert response.status_code == 400
    assert response.json()["error"]["fields"][0]["field"] == "status"


async def test_a_forged_cursor_is_a_field_error(client: httpx2.AsyncClient) -> None:
    response = await client.get("/technique-runs", params={"cursor": "not-a-cursor"})

    assert response.status_code == 400
    assert response.json()["error"]["fields"][0]["field"] == "cursor"


async def test_generations_list_generation_runs_only_newest_first(client: httpx2.AsyncClient) -> None:
    image = (await client.post("/runs/generation", json=generation_body())).json()["run_id"]
    text = (await client.post("/generate", json=generation_body(type="text"))).json()["run_id"]
    await client.post("/techniques/poster-maker/runs", json=nested_body())

    listing = GenerationList.model_validate((await client.get("/generations")).json())
    only_text = GenerationList.model_validate((await client.get("/generations", params={"type": "text"})).json())

    assert [item.run_id for item in listing.generations] == [text, image]
    newest = listing.generations[0]
    assert (newest.type, newest.project_id, newest.workspace_id) == ("text", "prj_sandbox", "ws_sandbox")
    assert newest.model is not None and newest.model.model_id == "t2t-sandbox-text"
    assert listing.meta.total_estimate == 2
    assert [item.run_id for item in only_text.generations] == [text]
