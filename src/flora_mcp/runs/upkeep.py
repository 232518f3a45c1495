"""Background upkeep of the state store while a server runs: late charges and retention.

Two jobs, run by the lifespan in a task group of their own:

- Charge re-checks. FLORA settles a run's charge after the run ends, so the charge the journal
  saw at the end may not be the bill. Every RECHECK_EVERY_SECONDS the server reads again the
  finished runs whose charge was last read that long ago (`Store.needing_charge_recheck`) and
  records what FLORA says now (`Store.observe_run`), so the ledger converges on what FLORA
  billed. Bounded: at most RECHECK_BATCH runs a pass, and only runs started in the last
  RECHECK_FOR_SECONDS (FLORA's charges have settled long before).

  Whose runs: re-reading a run needs the caller's API key, and the server only knows its own
  (FLORA_API_KEY, the one stdio clients use). Over HTTP every other caller brings a Bearer key
  per request that the server never keeps, so only the records whose caller is the server
  key's fingerprint are re-read here; another caller's records converge whenever that caller
  reads the run again (get_run, wait_for_run, find_runs' sources).

- Starts left in flight by a dead process. A process killed between booking a start and
  reading FLORA's answer leaves its record "in flight" for good. Every tick the server looks at
  its own caller's records in flight for longer than any live send takes (ORPHAN_AFTER_SECONDS)
  and searches FLORA's run lists for each (runs/recovery.py): found, it is "recovered" with its
  run id; not found, its outcome is "unknown", so a re-sent call sends it again under its own
  key (which FLORA cannot run twice) instead of waiting on a sender that is gone.

- Retention. Start records and tasks older than FLORA_STATE_RETENTION_DAYS are deleted once at
  start and then every PURGE_EVERY_SECONDS, so the store's size stays bounded.

Every failure here is logged and retried on the next pass: upkeep never stops the server.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable

import anyio

from flora_mcp.api.client import FloraClient
from flora_mcp.api.errors import FloraError, NotFoundError
from flora_mcp.api.models import RunState
from flora_mcp.runs.booking import finite_or_none
from flora_mcp.runs.plan import StartPlan
from flora_mcp.runs.recovery import find_lost_run
from flora_mcp.state import StartRecord, Store

logger = logging.getLogger("flora_mcp.runs")

ORPHAN_AFTER_SECONDS = 600.0  # far past the longest live send: 3 attempts of 30 s plus Retry-After waits
ORPHAN_LOOKBACK = 200
RECHECK_EVERY_SECONDS = 300.0
RECHECK_FOR_SECONDS = 2 * 86400.0
RECHECK_BATCH = 50
PURGE_EVERY_SECONDS = 3600.0
TICK_SECONDS = 60.0


async def _read(client: FloraClient, record: StartRecord) -> RunState:
    assert record.run_id is not None
    if record.technique_id:
        return await client.get_technique_run(record.technique_id, record.run_id)
    return await client.get_run(record.run_id)


async def recheck_charges(store: Store, client: FloraClient, caller: str, *, now: float) -> int:
    """One pass of charge re-checks for `caller`'s finished runs; returns how many were read.

    A run FLORA no longer knows, or one that reads unfinished again, is marked checked anyway
    (its charge unchanged), so it does not come back before RECHECK_EVERY_SECONDS. A FLORA
    failure of any other kind ends the pass: FLORA is down or refusing, the next pass retries.
    """
    due = await store.needing_charge_recheck(
        now - RECHECK_EVERY_SECONDS, RECHECK_BATCH, caller=caller, created_since=now - RECHECK_FOR_SECONDS
    )
    read = 0
    for record in due:
        if record.run_id is None:
            continue
        try:
            run = await _read(client, record)
        except NotFoundError:
            await store.observe_run(caller, record.run_id, now=now, run_status=None, finished=True, charged_usd=None)
            continue
        except FloraError as exc:
            logger.info("charge re-check paused: FLORA answered %s", type(exc).__name__)
            break
        read += 1
        if not run.is_terminal:
            await store.observe_run(caller, record.run_id, now=now, run_status=None, finished=True, charged_usd=None)
            continue
        outputs = [o.model_dump(mode="json") for o in run.outputs or []] or None
        await store.observe_run(
            caller,
            record.run_id,
            now=now,
            run_status=run.status,
            finished=True,
            charged_usd=finite_or_none(run.charged_cost),
            outputs=outputs,
        )
    return read


def _plan_of(record: StartRecord) -> StartPlan:
    """Enough of a start's plan to search for its run: where, which model or technique, when."""
    return StartPlan(
        tool=record.tool,
        kind="technique" if record.technique_id else "generation",
        arguments={},
        given_key=record.idempotency_key,
        repeat=False,
        describe=record.tool,
        workspace_id=record.workspace_id,
        project_id=record.project_id,
        technique_id=record.technique_id,
        model_id=record.model_id,
        # No prompt: the journal keeps only its first 200 characters, which cannot be compared.
    )


async def resolve_orphans(store: Store, client: FloraClient, caller: str, *, now: float) -> int:
    """Settle `caller`'s starts left in flight by a dead process (module docstring); returns how many."""
    resolved = 0
    for record in await store.recent(caller, ORPHAN_LOOKBACK):
        sent = record.sent_at or record.created_at
        if record.status != "in_flight" or now - sent < ORPHAN_AFTER_SECONDS:
            continue
        recovery = await find_lost_run(client, store, _plan_of(record), sent_at=sent)
        if recovery.failed:
            break  # FLORA is not answering: the next tick tries again
        if recovery.run_id is not None:
            await store.settle(record.idempotency_key, status="recovered", now=now, run_id=recovery.run_id)
            logger.info(
                "start %s left in flight by a stopped process: found run %s", record.idempotency_key, recovery.run_id
            )
        else:
            await store.settle(record.idempotency_key, status="unknown", now=now)
            logger.info(
                "start %s left in flight by a stopped process: no run found; outcome unknown", record.idempotency_key
            )
        resolved += 1
    return resolved


async def purge_old(store: Store, *, retention_days: float, now: float) -> int:
    """Delete what is older than the retention period; returns how many rows went."""
    gone = await store.purge(now - retention_days * 86400.0)
    if gone:
        logger.info("state store: removed %d rows older than %g days", gone, retention_days)
    return gone


async def run_upkeep(
    store: Store,
    client: FloraClient,
    *,
    server_caller: str | None,
    retention_days: float,
    wall_clock: Callable[[], float],
    tick_seconds: float = TICK_SECONDS,
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
) -> None:
    """Purge now and every PURGE_EVERY_SECONDS; re-check charges every tick (from the first tick on).

    Runs until cancelled. `server_caller` is the server key's fingerprint (None: no key of its
    own, nothing to re-check). The first re-check waits one tick, so a short-lived server (a
    test, a one-off stdio session) sends FLORA nothing it did not ask for. `sleep` waits out a
    tick: the server's own (create_server's `sleep`), so a test's fake clock drives the ticks.
    """
    last_purge = -math.inf
    while True:
        now = wall_clock()
        if now - last_purge >= PURGE_EVERY_SECONDS:
            try:
                await purge_old(store, retention_days=retention_days, now=now)
            except Exception:
                logger.warning("state store: retention purge failed; retrying later", exc_info=True)
            last_purge = now
        await sleep(tick_seconds)
        if server_caller is not None:
            try:
                await recheck_charges(store, client, server_caller, now=wall_clock())
            except Exception:
                logger.warning("state store: charge re-check failed; retrying later", exc_info=True)
            try:
                await resolve_orphans(store, client, server_caller, now=wall_clock())
            except Exception:
                logger.warning("state store: resolving starts left in flight failed; retrying later", exc_info=True)
