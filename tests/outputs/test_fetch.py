"""The bounded fetch: public hosts or FLORA's own origin only, a size cap, a timeout, checked redirects."""

from __future__ import annotations

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from flora_mcp.outputs.fetch import FetchError, check_url, fetch_output, origin_of
from flora_mcp.sandbox import Sandbox, SandboxConfig

pytestmark = pytest.mark.anyio

SANDBOX = "http://sandbox.test"


async def completed_image(http: httpx2.AsyncClient, sandbox: Sandbox) -> str:
    headers = {"Authorization": f"Bearer {sandbox.config.api_key}"}
    body = {"workspace_id": "ws_sandbox", "project_id": "prj_sandbox", "prompt": "a mug", "type": "image"}
    run = (await http.post(f"{SANDBOX}/api/v1/runs/generation", json=body, headers=headers)).json()
    state = (await http.get(f"{SANDBOX}/api/v1/runs/{run['run_id']}", headers=headers)).json()
    return str(state["outputs"][0]["url"])


@pytest.fixture
async def sandbox_http() -> httpx2.AsyncClient:
    sandbox = Sandbox(SandboxConfig(time_scale=0))
    http = httpx2.AsyncClient(transport=sandbox.transport())
    http.sandbox = sandbox  # type: ignore[attr-defined]
    return http


async def test_an_output_on_floras_own_origin_is_fetched_with_its_bytes(sandbox_http: httpx2.AsyncClient) -> None:
    url = await completed_image(sandbox_http, sandbox_http.sandbox)  # type: ignore[attr-defined]
    fetched = await fetch_output(sandbox_http, url, trusted_origin=SANDBOX, max_bytes=10**6, within_seconds=5)
    assert fetched.content.startswith(b"\x89PNG") and fetched.content_type == "image/png"


async def test_the_same_url_is_refused_when_its_origin_is_not_floras(sandbox_http: httpx2.AsyncClient) -> None:
    url = await completed_image(sandbox_http, sandbox_http.sandbox)  # type: ignore[attr-defined]
    with pytest.raises(FetchError, match=r"could not be resolved|not a public host"):
        await fetch_output(sandbox_http, url, trusted_origin="https://app.flora.ai", max_bytes=10**6, within_seconds=5)


async def test_an_output_over_the_cap_is_refused(sandbox_http: httpx2.AsyncClient) -> None:
    url = await completed_image(sandbox_http, sandbox_http.sandbox)  # type: ignore[attr-defined]
    with pytest.raises(FetchError, match="cap"):
        await fetch_output(sandbox_http, url, trusted_origin=SANDBOX, max_bytes=100, within_seconds=5)


async def test_a_missing_output_names_the_status(sandbox_http: httpx2.AsyncClient) -> None:
    with pytest.raises(FetchError, match="HTTP 404"):
        await fetch_output(
            sandbox_http, f"{SANDBOX}/media/run_x/output_1.png", trusted_origin=SANDBOX, max_bytes=100, within_seconds=5
        )


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/x.png",
        "http://localhost/x.png",
        "https://10.0.0.5/x.png",
        "https://169.254.169.254/latest/meta-data",
        "http://[::1]/x.png",
        "http://2130706433/x.png",
    ],
)
async def test_loopback_private_and_link_local_hosts_are_refused(url: str) -> None:
    with pytest.raises(FetchError, match="not a public host"):
        await check_url(url, trusted_origin="https://app.flora.ai")


@pytest.mark.parametrize(
    ("url", "why"),
    [("file:///etc/passwd", "http"), ("ftp://media.flora.ai/x", "http"), ("https://u:p@media.flora.ai/x", "password")],
)
async def test_other_schemes_and_credentials_are_refused(url: str, why: str) -> None:
    with pytest.raises(FetchError, match=why):
        await check_url(url, trusted_origin=None)


async def test_a_redirect_to_a_private_host_is_refused() -> None:
    async def redirecting(request: Request) -> RedirectResponse:
        return RedirectResponse("http://192.168.1.1/admin", status_code=302)

    media_host = Starlette(routes=[Route("/media/a.png", redirecting)])
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=media_host))
    with pytest.raises(FetchError, match="not a public host"):
        await fetch_output(http, f"{SANDBOX}/media/a.png", trusted_origin=SANDBOX, max_bytes=100, within_seconds=5)


def test_origins_drop_default_ports() -> None:
    assert origin_of("https://media.flora.ai:443/a.png") == "https://media.flora.ai"
    assert origin_of("http://127.0.0.1:8787/api/v1") == "http://127.0.0.1:8787"


async def test_a_checked_name_is_connected_to_its_checked_address_with_its_own_host_header() -> None:
    from flora_mcp.outputs.fetch import _get, _Target
    from flora_mcp.sandbox.server import serving_app

    seen: list[str] = []

    async def media(request: Request) -> Response:
        seen.append(request.headers["host"])
        return Response(b"bytes")

    async with serving_app(Starlette(routes=[Route("/a.png", media)])) as origin:
        port = httpx2.URL(origin).port
        target = _Target(httpx2.URL(f"http://media.example:{port}/a.png"), addresses=["127.0.0.1"])
        async with httpx2.AsyncClient() as http, _get(http, target) as answer:
            assert answer.status == 200
    assert seen == [f"media.example:{port}"]


async def test_a_name_with_any_private_answer_is_refused() -> None:
    async def mixed(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.1.2.3"]

    with pytest.raises(FetchError, match="non-public address"):
        await check_url("https://media.example/a.png", trusted_origin=None, resolve=mixed)
