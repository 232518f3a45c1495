"""Hostile tool arguments: every call ends as a result or a clean refusal, and invalid ones send nothing.

Generated (hypothesis, seeded) calls to every tool through an in-memory MCP client against the
sandbox; see hostile_campaign.py for what is generated and how each call is judged. Below the
tool schemas, the client itself keeps any id, however hostile, inside its own path segment.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote, unquote

import httpx2
import pytest
from hypothesis import strategies as st

from flora_mcp.api.client import FloraClient
from flora_mcp.api.errors import FloraError
from flora_mcp.api.models import NestedTechniqueRunRequest, TechniqueInput
from flora_mcp.sandbox import Sandbox, SandboxConfig

from .hostile_campaign import PATH_PIECES, HostileCall, Verdict, drive, explore, hostile_harness, run_hostile_campaign
from .hostile_support import log_requests

pytestmark = pytest.mark.anyio

EXAMPLES = 1000


# 1,000 generated calls (about 5 s): in the slow run (.ci/run: pytest -m slow); the 120-call campaign
# below stays in the default run.
@pytest.mark.slow
async def test_every_tool_answers_hostile_arguments_with_a_result_or_a_clean_refusal() -> None:
    outcomes: dict[str, set[str]] = {}

    def judge(call: HostileCall, verdict: Verdict) -> None:
        assert not verdict.problems, f"{call.tool}({call.arguments!r:.500}): {verdict.problems}"
        outcomes.setdefault(call.tool, set()).add(verdict.outcome)

    async with hostile_harness() as harness:
        await explore(harness, seed=20_260_101, examples=EXAMPLES, judge=judge)
        tools = set(harness.specs)

    # The generated calls reached every tool, and both sides of the line between valid and not.
    assert set(outcomes) == tools
    assert all("refused" in seen for seen in outcomes.values())
    assert all("result" in seen for seen in outcomes.values()), {t: s for t, s in outcomes.items() if "result" not in s}


async def test_the_campaign_counts_refusals_and_results_and_finds_no_crash_and_no_request_for_invalid_input() -> None:
    figures = await run_hostile_campaign(seed=3, examples=120)

    assert figures["calls"] == 120 + figures["tools"]  # one plain call per tool, then the generated ones
    assert figures["invalid_inputs"] > 0 and figures["valid_results"] > 0
    assert figures["invalid_inputs_refused_before_sending"] == figures["invalid_inputs"]
    assert figures["requests_for_invalid_input"] == 0
    assert figures["unexpected_request_paths"] == 0
    assert figures["crashes"] == figures["problems"] == 0


any_id = st.text(st.characters(exclude_categories=("Cs",)), max_size=30) | st.builds(
    "".join, st.lists(st.sampled_from(PATH_PIECES), min_size=1, max_size=5)
)


async def test_the_client_keeps_any_id_inside_its_own_path_segment() -> None:
    """Below the tool schemas (which refuse such ids), the client still cannot be steered."""
    sandbox = Sandbox(SandboxConfig(time_scale=0))
    log = log_requests(sandbox)
    async with httpx2.AsyncClient(transport=sandbox.transport()) as http:
        client = FloraClient(http, base_url=sandbox.base_url(), api_key=sandbox.config.api_key)

        async def check(ids: tuple[str, str]) -> None:
            technique_id, run_id = ids
            start = NestedTechniqueRunRequest(inputs=[TechniqueInput(id="subject", type="text", value="x")])
            calls: list[tuple[Callable[[], Awaitable[object]], list[str]]] = [
                (lambda: client.get_run(run_id), ["runs", run_id]),
                (lambda: client.get_technique(technique_id), ["techniques", technique_id]),
                (
                    lambda: client.get_technique_run(technique_id, run_id),
                    ["techniques", technique_id, "runs", run_id],
                ),
                (
                    lambda: client.start_nested_technique_run(technique_id, start, idempotency_key="hostile-ids-01"),
                    ["techniques", technique_id, "runs"],
                ),
            ]
            for call, segments in calls:
                before = len(log.seen)
                try:
                    await call()
                except ValueError:
                    # Refused before sending: only an id that is empty or a dot segment.
                    assert {technique_id, run_id} & {"", ".", ".."}
                    assert len(log.seen) == before
                    continue
                except FloraError:
                    pass  # the sandbox's answer (404, 400): what matters is where the request went
                [request] = log.seen[before:]
                assert request.query == ""
                sent = request.raw_path.split("/")[3:]  # after "", "api", "v1"
                assert sent == [quote(s, safe="") for s in segments]
                assert [unquote(s) for s in sent] == segments

        await drive(st.tuples(any_id, any_id), check, seed=7, examples=200)
