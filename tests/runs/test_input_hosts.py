"""The pure check of which input URLs FLORA can load (runs/input_hosts.py)."""

from __future__ import annotations

from flora_mcp.runs.input_hosts import allowed_origins, origin, unloadable_inputs

ALLOWED = allowed_origins(["https://media.flora.ai", "https://IK.imagekit.io/", "http://sandbox.test:8080"])


def test_origins_compare_scheme_host_and_port_case_insensitively() -> None:
    assert origin("HTTPS://Media.Flora.AI:443/a.png") == "https://media.flora.ai"
    assert origin("http://sandbox.test:8080/media/x.png") == "http://sandbox.test:8080"
    assert origin("ftp://media.flora.ai/a.png") is None and origin("a.png") is None
    assert origin("https://media.flora.ai:notaport/a.png") is None


def test_only_urls_off_the_allowed_origins_are_problems() -> None:
    urls = [
        ("inputs.a", "https://media.flora.ai/a.png"),
        ("inputs.b", "https://ik.imagekit.io/x/b.png"),
        ("inputs.c", "http://sandbox.test:8080/media/c.png"),
        ("inputs.d", "http://media.flora.ai/d.png"),  # another scheme: another origin
        ("inputs.e", "http://sandbox.test/media/e.png"),  # another port
        ("inputs.f", "https://media.flora.ai.evil.example/f.png"),
        ("inputs.g", "data:image/png;base64,AAAA"),
    ]
    assert [p.where for p in unloadable_inputs(urls, ALLOWED)] == ["inputs.d", "inputs.e", "inputs.f", "inputs.g"]
