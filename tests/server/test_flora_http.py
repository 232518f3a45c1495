"""The HTTP client to FLORA: nothing built before the first call, proxies honoured as httpx2 does."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anyio
import anyio.lowlevel
import certifi
import httpx2
import pytest
from pydantic import SecretStr

from flora_mcp.api.errors import ServerError
from flora_mcp.config import Settings
from flora_mcp.server import flora_http
from flora_mcp.server.flora_http import TransportOnFirstUse, environment_has_proxy, flora_client, flora_http_client

pytestmark = pytest.mark.anyio

KEY = "sk-flora-http-test-key"
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


class Recorder(ThreadingHTTPServer):
    """A local HTTP server that answers 200 and records each request line's target."""

    def __init__(self) -> None:
        self.targets: list[str] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Recorder

    def do_GET(self) -> None:
        self.server.targets.append(self.path)
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def no_proxy_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


class CountingTransport(httpx2.AsyncBaseTransport):
    built = 0
    closed = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        type(self).built += 1

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        await anyio.lowlevel.checkpoint()
        return httpx2.Response(200, text=request.url.path)

    async def aclose(self) -> None:
        type(self).closed += 1


@pytest.fixture
def counting() -> type[CountingTransport]:
    CountingTransport.built = CountingTransport.closed = 0
    return CountingTransport


async def test_the_real_transport_is_built_at_the_first_request_once_and_closed_with_the_client(
    counting: type[CountingTransport],
) -> None:
    lazy = TransportOnFirstUse(counting)
    async with httpx2.AsyncClient(transport=lazy, base_url="http://flora.test") as client:
        assert counting.built == 0
        paths: list[str] = []

        async def get(path: str) -> None:
            paths.append((await client.get(path)).text)

        async with anyio.create_task_group() as group:
            for path in ("/a", "/b", "/c"):
                group.start_soon(get, path)
        assert sorted(paths) == ["/a", "/b", "/c"]
        assert counting.built == 1
    assert counting.closed == 1


async def test_a_client_that_never_sends_builds_and_closes_nothing(counting: type[CountingTransport]) -> None:
    async with httpx2.AsyncClient(transport=TransportOnFirstUse(counting)):
        pass
    assert (counting.built, counting.closed) == (0, 0)


@pytest.mark.usefixtures("no_proxy_in_env")
async def test_without_a_proxy_the_client_sets_up_its_pool_only_when_it_first_calls(
    monkeypatch: pytest.MonkeyPatch, recorder: Recorder
) -> None:
    built: list[bool] = []
    real = httpx2.AsyncHTTPTransport

    def spy(**kwargs: Any) -> httpx2.AsyncHTTPTransport:
        built.append(kwargs["trust_env"])
        return real(**kwargs)

    monkeypatch.setattr(flora_http.httpx2, "AsyncHTTPTransport", spy)
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())  # a CA bundle that is there: still lazy
    async with flora_http_client(trust_env=True) as client:
        assert built == []
        response = await client.get(f"{recorder.url}/api/v1/runs/r1")
    assert response.text == "ok"
    assert built == [True]
    assert recorder.targets == ["/api/v1/runs/r1"]


async def test_a_proxy_in_the_environment_carries_the_requests(
    monkeypatch: pytest.MonkeyPatch, no_proxy_in_env: None, recorder: Recorder
) -> None:
    monkeypatch.setenv("HTTP_PROXY", recorder.url)
    assert environment_has_proxy()
    async with flora_http_client(trust_env=True) as client:
        response = await client.get("http://flora.invalid/api/v1/runs/r1")
    assert response.text == "ok"
    # The proxy saw the absolute URL: the request went through it, as httpx2 sends proxied requests.
    assert recorder.targets == ["http://flora.invalid/api/v1/runs/r1"]


async def test_a_client_for_the_loopback_sandbox_ignores_proxies_in_the_environment(
    monkeypatch: pytest.MonkeyPatch, no_proxy_in_env: None, recorder: Recorder
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    async with flora_http_client(trust_env=False) as client:
        response = await client.get(f"{recorder.url}/api/v1/runs/r1")
    assert response.text == "ok"
    assert recorder.targets == ["/api/v1/runs/r1"]


@pytest.mark.usefixtures("no_proxy_in_env")
def test_no_proxy_alone_is_not_a_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "localhost")
    assert not environment_has_proxy()


async def test_a_wrong_ca_bundle_path_in_the_environment_still_fails_at_start(
    monkeypatch: pytest.MonkeyPatch, no_proxy_in_env: None, tmp_path: Any
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    with pytest.raises(FileNotFoundError):
        flora_http_client(trust_env=True)


async def test_the_flora_client_takes_base_url_key_and_retry_count_from_the_settings() -> None:
    seen: list[httpx2.Request] = []

    def failing(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(503)

    settings = Settings(api_key=SecretStr(KEY), base_url="http://127.0.0.1:9/api/v1/", max_retries=1)
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(failing)) as http:
        client = flora_client(settings, http, sleep=sleep)
        assert client.base_url == "http://127.0.0.1:9/api/v1"
        with pytest.raises(ServerError):
            await client.list_workspaces()
    assert len(seen) == 2  # one retry, as max_retries says
    assert seen[0].headers["Authorization"] == f"Bearer {KEY}"
