"""Finding a run whose start answer was lost, so the agent never has to search for it.

When FLORA may have accepted a start but its answer (and so its run id) did not arrive (every
retry lost, or FLORA answered idempotency_duplicate or idempotency_conflict), the server knows
what it sent, where and when. It lists the newest runs of that workspace and project
(generations) or of that technique (technique runs), keeps those created since the first
attempt went out, matching the model or technique, and not already claimed by another start in
the journal. One match is the run; several are listed; none says what was searched.

Time is what tells this start's run from another start of the same model in the same project
(another client, a person in FLORA's app, a server on another state store). Only runs created
from a few seconds before the first attempt count as matches (and runs the listing gives no time
for); runs from up to two minutes before (the run, if FLORA's clock runs behind ours) are listed
as candidates but never taken as the run. Where the generation listing carries the prompt
(FLORA documents no item shape; some answers have it), a run listed with another prompt is
never taken: the items of a batch, sent together, differ only by it.

An action run is not searched: FLORA documents no listing of action runs (GET /generations lists
a project's generations; an action does not change the canvas, and FLORA does not say it lists
there). Taking a generation of the project for the action's run would be worse than saying none
was found, so the answer says so and the journal keeps the start's key.

A technique run started by its slug is searched under its tech_ id: FLORA's docs do not say the
run listing filters by slug.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from flora_mcp.api.client import FloraClient
from flora_mcp.api.errors import FloraError
from flora_mcp.api.models import GenerationListQuery, TechniqueRunListQuery
from flora_mcp.runs.plan import StartPlan
from flora_mcp.state import Store

logger = logging.getLogger("flora_mcp.runs")

SEARCHED_RUNS = 25
MATCH_SLACK_SECONDS = 5.0  # clocks of NTP-synced hosts agree far better than this
CLOCK_SLACK_SECONDS = 120.0  # older than this before the first attempt: not this start's run


@dataclass(frozen=True)
class Recovery:
    """What the search found: one run id, several candidates, or nothing (and what was searched)."""

    searched: str
    run_id: str | None = None
    candidates: list[str] = field(default_factory=list)
    failed: str | None = None  # why the listing could not be read
    unsearchable: str | None = None  # why no listing was searched

    def describe(self) -> str:
        if self.unsearchable:
            return f"flora-mcp could not search for the run: {self.unsearchable}."
        if self.run_id:
            return f"flora-mcp found the run in {self.searched}: {self.run_id}."
        if self.failed:
            return f"flora-mcp tried to find the run in {self.searched}, but the listing failed ({self.failed})."
        if self.candidates:
            return f"In {self.searched}, these runs could be this one's: {', '.join(self.candidates)}."
        return f"flora-mcp looked through {self.searched} and found no run that matches this start yet."


def _seconds(value: Any) -> float | None:
    """A FLORA timestamp as unix seconds: numbers in ms or s; strings are not compared."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value / 1000 if value > 1e11 else float(value)


async def find_lost_run(client: FloraClient, store: Store, plan: StartPlan, *, sent_at: float) -> Recovery:
    """Look for the run `plan` started (module docstring); never raises for FLORA failures."""
    if plan.kind == "action":
        return Recovery(
            searched="no run listing",
            unsearchable="FLORA documents no listing of action runs (find_runs shows this start's key)",
        )
    since = sent_at - CLOCK_SLACK_SECONDS
    created: dict[str, float | None] = {}
    prompts: dict[str, str] = {}  # run id → the prompt the listing gives for it, where it gives one
    try:
        if plan.kind == "generation":
            searched = f"the {SEARCHED_RUNS} newest generations of project {plan.project_id}"
            page = await client.list_generations(
                GenerationListQuery.model_validate(
                    {"workspace_id": plan.workspace_id, "project_id": plan.project_id, "limit": SEARCHED_RUNS}
                )
            )
            for item in page.generations:
                if item.run_id and (
                    plan.model_id is None or item.model is None or item.model.model_id == plan.model_id
                ):
                    created[item.run_id] = _seconds(item.created_at)
                    if item.prompt is not None:
                        prompts[item.run_id] = _words(item.prompt)
        else:
            technique_id = plan.technique_id
            if technique_id is not None and not technique_id.startswith("tech_"):
                technique_id = (await client.get_technique(technique_id)).technique_id
            searched = f"the {SEARCHED_RUNS} newest runs of technique {technique_id}"
            query: dict[str, Any] = {"technique_id": technique_id, "limit": SEARCHED_RUNS}
            if plan.workspace_id:
                query["workspace_id"] = plan.workspace_id
            runs = await client.list_technique_runs(TechniqueRunListQuery.model_validate(query))
            created = {run.run_id: _seconds(run.created_at) for run in runs.technique_runs}
    except (FloraError, ValueError) as exc:
        logger.warning("could not search for a lost run: %s", type(exc).__name__)
        return Recovery(searched=locals().get("searched", "the run history"), failed=type(exc).__name__)
    found = [run_id for run_id, at in created.items() if at is None or at >= since]
    try:
        claimed = await store.claimed_run_ids(found) if found else set()
    except Exception:  # the store is failing too: no run is taken as this one, the candidates are listed
        logger.warning("could not read which runs are claimed; listing candidates only", exc_info=True)
        return Recovery(searched=searched, candidates=found[:10])
    unclaimed = [run_id for run_id in found if run_id not in claimed]
    # A run created before this start went out (beyond clock skew) is some other start's: never taken.
    sure = [r for r in unclaimed if (at := created[r]) is None or at >= sent_at - MATCH_SLACK_SECONDS]
    if plan.prompt is not None:
        # A run listed with another prompt is another start's (say, the next item of a batch).
        ours = _words(plan.prompt)
        sure = [r for r in sure if prompts.get(r, ours) == ours]
    if len(sure) == 1:
        return Recovery(searched=searched, run_id=sure[0])
    return Recovery(searched=searched, candidates=unclaimed[:10])


def _words(text: str) -> str:
    return " ".join(text.split())
