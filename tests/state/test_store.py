"""The Store contract, checked the same way against memory, SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest

from flora_mcp.state import (
    CapRefused,
    Existing,
    KeyConflict,
    Reserved,
    ReserveRequest,
    Store,
    TaskRecord,
)

pytestmark = pytest.mark.anyio

T0 = 1_760_000_000.0
ALICE = "c_" + "a" * 24
BOB = "c_" + "b" * 24


def request(key: str, **changes: object) -> ReserveRequest:
    base = ReserveRequest(
        caller=ALICE,
        tool="start_generation_run",
        args_digest="d1",
        idempotency_key=key,
        quote_usd=0.25,
        cap_usd=None,
        now=T0,
        workspace_id="ws_1",
        project_id="prj_1",
        model_id="flux-dev",
        prompt_summary="A blue mug on a wooden table",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


async def reserved(store: Store, key: str, **changes: object) -> Reserved:
    result = await store.reserve(request(key, **changes))
    assert isinstance(result, Reserved), result
    return result


# -- reserve ---------------------------------------------------------------------------------


async def test_reserve_inserts_an_in_flight_record_with_every_field(store: Store) -> None:
    result = await reserved(store, "k1")
    rec = result.record
    assert (rec.status, rec.sent_at, rec.run_id, rec.charged_usd) == ("in_flight", None, None, None)
    assert (rec.workspace_id, rec.project_id, rec.model_id, rec.quote_usd) == ("ws_1", "prj_1", "flux-dev", 0.25)
    assert rec.created_at == rec.updated_at == T0
    assert await store.get("k1") == rec


async def test_the_same_key_for_the_same_start_is_existing(store: Store) -> None:
    first = await reserved(store, "k1")
    again = await store.reserve(request("k1", now=T0 + 5, quote_usd=None))
    assert again == Existing(first.record, "same_key")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"caller": BOB}, "other_caller"),
        ({"tool": "start_technique_run"}, "other_tool"),
        ({"args_digest": "d2"}, "other_arguments"),
    ],
)
async def test_a_reused_key_for_something_else_is_a_conflict(store: Store, changes: dict, reason: str) -> None:
    await reserved(store, "k1")
    result = await store.reserve(request("k1", **changes))
    assert result == KeyConflict(reason)  # type: ignore[arg-type]
    # A conflict carries its reason and nothing else: no record, so no other caller's details.
    assert [f.name for f in dataclasses.fields(result)] == ["reason"]


async def test_a_repeat_is_found_only_within_repeat_since_and_not_when_never_started(store: Store) -> None:
    first = await reserved(store, "k1")
    found = await store.reserve(request("k2", now=T0 + 10, repeat_since=T0))
    assert found == Existing(first.record, "repeat")
    # Too old for the lookup, or no lookup asked: a new start.
    await reserved(store, "k3", now=T0 + 20, repeat_since=T0 + 1)
    # A start that never went out is no repeat.
    await store.settle("k1", status="not_started", now=T0 + 30)
    await store.settle("k3", status="not_started", now=T0 + 30)
    await reserved(store, "k4", now=T0 + 40, repeat_since=T0)
    # Another caller's identical start is not mine.
    await reserved(store, "k5", caller=BOB, now=T0 + 50, repeat_since=T0)


async def test_a_repeat_is_the_newest_match(store: Store) -> None:
    await reserved(store, "k1")
    newer = await reserved(store, "k2", now=T0 + 1)
    assert await store.reserve(request("k3", now=T0 + 2, repeat_since=T0)) == Existing(newer.record, "repeat")


async def test_the_key_lookup_comes_before_the_cap(store: Store) -> None:
    first = await reserved(store, "k1", quote_usd=1.0, cap_usd=1.0)
    assert await store.reserve(request("k1", quote_usd=1.0, cap_usd=1.0)) == Existing(first.record, "same_key")


async def test_the_cap_admits_quotes_up_to_it_exactly(store: Store) -> None:
    for i in range(4):
        await reserved(store, f"k{i}", cap_usd=1.0, args_digest=f"d{i}")
    refused = await store.reserve(request("k9", cap_usd=1.0, args_digest="d9"))
    assert refused == CapRefused(committed_usd=1.0, spent_usd=0.0, cap_usd=1.0, unknown_in_flight=0)


async def test_the_cap_refuses_a_quote_that_would_go_over(store: Store) -> None:
    await reserved(store, "k1", quote_usd=0.75, cap_usd=1.0)
    assert isinstance(await store.reserve(request("k2", quote_usd=0.5, cap_usd=1.0, args_digest="d2")), CapRefused)
    await reserved(store, "k3", quote_usd=0.25, cap_usd=1.0, args_digest="d3")


async def test_the_cap_counts_charges_spent_and_ignores_not_started(store: Store) -> None:
    await reserved(store, "k1", quote_usd=0.25)
    await store.settle("k1", status="started", now=T0 + 1, run_id="run_1", charged_usd=0.5, run_finished=True)
    await reserved(store, "k2", quote_usd=0.25, args_digest="d2")
    await store.settle("k2", status="not_started", now=T0 + 1)
    refused = await store.reserve(request("k3", quote_usd=0.6, cap_usd=1.0, args_digest="d3"))
    assert refused == CapRefused(committed_usd=0.5, spent_usd=0.5, cap_usd=1.0, unknown_in_flight=0)


async def test_at_most_one_start_of_unknown_cost_is_in_flight(store: Store) -> None:
    await reserved(store, "k1", quote_usd=None, cap_usd=1.0)
    refused = await store.reserve(request("k2", quote_usd=None, cap_usd=1.0, args_digest="d2"))
    assert refused == CapRefused(committed_usd=0.0, spent_usd=0.0, cap_usd=1.0, unknown_in_flight=1)
    # A known quote still fits beside it.
    await reserved(store, "k3", quote_usd=0.25, cap_usd=1.0, args_digest="d3")
    # Once the first is settled another unpriced start may go.
    await store.settle("k1", status="started", now=T0 + 1, run_id="run_1")
    await reserved(store, "k4", quote_usd=None, cap_usd=1.0, args_digest="d4")


async def test_the_cap_is_per_caller(store: Store) -> None:
    await reserved(store, "k1", quote_usd=1.0, cap_usd=1.0)
    await reserved(store, "k2", caller=BOB, quote_usd=1.0, cap_usd=1.0)


async def test_only_records_inside_the_window_count(store: Store) -> None:
    await reserved(store, "k1", quote_usd=1.0, now=T0)
    assert isinstance(await store.reserve(request("k2", cap_usd=1.0, now=T0 + 100, window_start=T0)), CapRefused)
    await reserved(store, "k3", cap_usd=1.0, now=T0 + 100, window_start=T0 + 1)


# -- settle and observe_run ------------------------------------------------------------------


async def test_settle_moves_up_and_never_down(store: Store) -> None:
    await reserved(store, "k1")
    rec = await store.settle("k1", status="started", now=T0 + 1, run_id="run_1", model_id="flux-pro")
    assert rec is not None and (rec.status, rec.run_id, rec.model_id, rec.updated_at) == (
        "started",
        "run_1",
        "flux-pro",
        T0 + 1,
    )
    for lower in ("unknown", "accepted_earlier", "recovered", "not_started", "in_flight"):
        after = await store.settle("k1", status=lower, now=T0 + 2, run_id="run_other")
        assert after is not None and (after.status, after.run_id) == ("started", "run_1")
    assert (await store.get("k1")).status == "started"  # type: ignore[union-attr]


async def test_unknown_can_still_become_known_but_not_not_started(store: Store) -> None:
    await reserved(store, "k1")
    assert (await store.settle("k1", status="unknown", now=T0 + 1)).status == "unknown"  # type: ignore[union-attr]
    assert (await store.settle("k1", status="not_started", now=T0 + 2)).status == "unknown"  # type: ignore[union-attr]
    assert (await store.settle("k1", status="recovered", now=T0 + 3)).status == "recovered"  # type: ignore[union-attr]


async def test_settle_of_an_unknown_key_is_none_and_a_bad_status_is_an_error(store: Store) -> None:
    assert await store.settle("nope", status="started", now=T0) is None
    await reserved(store, "k1")
    with pytest.raises(ValueError, match="status must be one of"):
        await store.settle("k1", status="done", now=T0)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, -0.01])
async def test_charges_that_are_not_finite_and_non_negative_are_ignored(store: Store, bad: float) -> None:
    await reserved(store, "k1")
    rec = await store.settle("k1", status="started", now=T0 + 1, run_id="run_1", charged_usd=bad)
    assert rec is not None and rec.charged_usd is None and rec.cost_usd == 0.25
    await store.settle("k1", status="started", now=T0 + 2, charged_usd=0.3, run_finished=True)
    rec = await store.observe_run(ALICE, "run_1", now=T0 + 3, run_status="completed", finished=True, charged_usd=bad)
    assert rec is not None and rec.charged_usd == 0.3


async def test_while_unfinished_the_cost_never_drops_below_the_quote(store: Store) -> None:
    await reserved(store, "k1", quote_usd=0.25)
    await store.settle("k1", status="started", now=T0 + 1, run_id="run_1", charged_usd=0.05)
    assert (await store.get("k1")).cost_usd == 0.25  # type: ignore[union-attr]
    rec = await store.observe_run(ALICE, "run_1", now=T0 + 2, run_status="running", finished=False, charged_usd=0.1)
    assert rec is not None and rec.cost_usd == 0.25 and rec.run_status == "running" and not rec.run_finished
    rec = await store.observe_run(ALICE, "run_1", now=T0 + 3, run_status="running", finished=False, charged_usd=0.4)
    assert rec is not None and rec.cost_usd == 0.4
    # Once finished FLORA's charge wins, even below the quote.
    outputs = [{"output_id": "out_1", "type": "image", "url": "https://cdn.example/out_1.png"}]
    rec = await store.observe_run(
        ALICE, "run_1", now=T0 + 4, run_status="completed", finished=True, charged_usd=0.1, outputs=outputs
    )
    assert rec is not None and (rec.cost_usd, rec.run_finished, rec.charge_checked_at) == (0.1, True, T0 + 4)
    assert rec.outputs == outputs
    # A stale unfinished reading changes nothing.
    rec = await store.observe_run(ALICE, "run_1", now=T0 + 5, run_status="running", finished=False, charged_usd=0.9)
    assert rec is not None and (rec.run_status, rec.run_finished, rec.cost_usd) == ("completed", True, 0.1)


async def test_observe_run_is_scoped_to_the_caller(store: Store) -> None:
    await reserved(store, "k1")
    await store.settle("k1", status="started", now=T0 + 1, run_id="run_1")
    assert await store.observe_run(BOB, "run_1", now=T0 + 2, run_status="failed", finished=True, charged_usd=0) is None
    assert await store.find_run(BOB, "run_1") is None
    assert (await store.find_run(ALICE, "run_1")).run_status is None  # type: ignore[union-attr]
    assert await store.claimed_run_ids(["run_1", "run_2"]) == {"run_1"}


async def test_mark_sent_sets_sent_at_once(store: Store) -> None:
    await reserved(store, "k1")
    await store.mark_sent("k1", T0 + 1)
    await store.mark_sent("k1", T0 + 2)
    await store.mark_sent("nope", T0 + 2)
    assert (await store.get("k1")).sent_at == T0 + 1  # type: ignore[union-attr]


async def test_a_start_sent_as_it_is_reserved_is_born_sent_and_keeps_that_time(store: Store) -> None:
    result = await reserved(store, "k1", sent_at=T0)
    assert result.record.sent_at == T0 and result.record.status == "in_flight"
    await store.mark_sent("k1", T0 + 5)  # a later mark (a resend) does not move it
    assert (await store.get("k1")).sent_at == T0  # type: ignore[union-attr]


# -- reads -----------------------------------------------------------------------------------


async def test_spend_splits_by_certainty(store: Store) -> None:
    await reserved(store, "k1", quote_usd=0.25)
    await store.settle("k1", status="started", now=T0, run_id="run_1", charged_usd=0.3, run_finished=True)
    await reserved(store, "k2", quote_usd=0.5, args_digest="d2")
    await store.settle("k2", status="unknown", now=T0)
    await reserved(store, "k3", quote_usd=0.125, args_digest="d3")
    await reserved(store, "k4", quote_usd=None, args_digest="d4")
    await reserved(store, "k5", quote_usd=2.0, args_digest="d5")
    await store.settle("k5", status="not_started", now=T0)
    await reserved(store, "k6", caller=BOB, quote_usd=9.0)
    summary = await store.spend(ALICE, None)
    assert (summary.spent_usd, summary.unconfirmed_usd, summary.in_flight_usd) == (0.3, 0.5, 0.125)
    assert (summary.starts, summary.unpriced) == (4, 1)
    assert (await store.spend(ALICE, T0 + 1)).starts == 0


async def test_recent_is_newest_first_and_per_caller(store: Store) -> None:
    for i in range(5):
        await reserved(store, f"k{i}", now=T0 + i, args_digest=f"d{i}")
    await reserved(store, "bob", caller=BOB, now=T0 + 10)
    assert [r.idempotency_key for r in await store.recent(ALICE, limit=3)] == ["k4", "k3", "k2"]


async def test_search_by_text_tool_status_and_date(store: Store) -> None:
    await reserved(store, "mug", now=T0, prompt_summary="A blue MUG on a wooden table")
    await reserved(
        store, "fox", now=T0 + 86400, tool="start_technique_run", args_digest="d2", prompt_summary="Ünïcode fox"
    )
    await store.settle("fox", status="started", now=T0 + 86400, run_id="run_fox", run_status="completed")
    await reserved(store, "none", now=T0 + 2 * 86400, args_digest="d3", prompt_summary=None)
    await reserved(store, "bobs", caller=BOB, prompt_summary="a mug for bob")

    async def keys(**filters: object) -> list[str]:
        return [r.idempotency_key for r in await store.search(ALICE, **filters)]  # type: ignore[arg-type]

    assert await keys(text="mug") == ["mug"]
    assert await keys(text="ÜNÏ") == ["fox"]
    assert await keys(text="100%_") == []
    assert await keys(tool="start_technique_run") == ["fox"]
    assert await keys(status="completed") == ["fox"]
    assert await keys(status="in_flight") == ["none", "mug"]
    assert await keys(since=T0 + 1) == ["none", "fox"]
    assert await keys(since=T0, until=T0 + 86400) == ["mug"]
    assert await keys(limit=1) == ["none"]


async def test_needing_charge_recheck_lists_finished_runs_checked_too_long_ago(store: Store) -> None:
    await reserved(store, "early")
    await store.settle("early", status="started", now=T0 + 1, run_id="r1", run_finished=True, charged_usd=0.2)
    await reserved(store, "late", args_digest="d2", caller=BOB)
    await store.settle("late", status="started", now=T0 + 50, run_id="r2", run_finished=True)
    await reserved(store, "open", args_digest="d3")
    await store.settle("open", status="started", now=T0 + 1, run_id="r3", run_status="running")
    assert [r.idempotency_key for r in await store.needing_charge_recheck(T0 + 100)] == ["early", "late"]
    assert [r.idempotency_key for r in await store.needing_charge_recheck(T0 + 10)] == ["early"]
    await store.observe_run(ALICE, "r1", now=T0 + 200, run_status="completed", finished=True, charged_usd=0.25)
    assert [r.idempotency_key for r in await store.needing_charge_recheck(T0 + 100)] == ["late"]


async def test_needing_charge_recheck_can_be_narrowed_to_one_caller_and_recent_records(store: Store) -> None:
    await reserved(store, "old", now=T0)
    await store.settle("old", status="started", now=T0 + 1, run_id="r1", run_finished=True)
    await reserved(store, "new", args_digest="d2", now=T0 + 1000)
    await store.settle("new", status="started", now=T0 + 1001, run_id="r2", run_finished=True)
    await reserved(store, "bobs", args_digest="d3", caller=BOB, now=T0 + 1000)
    await store.settle("bobs", status="started", now=T0 + 1001, run_id="r3", run_finished=True)

    async def keys(**filters: Any) -> list[str]:
        return sorted(r.idempotency_key for r in await store.needing_charge_recheck(T0 + 5000, **filters))

    assert await keys() == ["bobs", "new", "old"]
    assert await keys(caller=ALICE) == ["new", "old"]
    assert await keys(caller=BOB) == ["bobs"]
    assert await keys(created_since=T0 + 500) == ["bobs", "new"]
    assert await keys(caller=ALICE, created_since=T0 + 500) == ["new"]


async def test_purge_removes_old_records_and_tasks(store: Store) -> None:
    await reserved(store, "old", now=T0)
    await reserved(store, "new", now=T0 + 100, args_digest="d2")
    await store.create_task(task("t_old", now=T0))
    await store.create_task(task("t_new", now=T0 + 100))
    assert await store.purge(T0 + 50) == 2
    assert await store.get("old") is None and await store.get("new") is not None
    assert await store.get_task("t_old", ALICE) is None and await store.get_task("t_new", ALICE) is not None
    assert await store.purge(T0 + 50) == 0


# -- tasks -----------------------------------------------------------------------------------


def task(task_id: str, *, now: float = T0, caller: str = ALICE) -> TaskRecord:
    return TaskRecord(
        task_id=task_id,
        caller=caller,
        tool="start_generation_runs",
        status="working",
        created_at=now,
        updated_at=now,
        run_refs=[{"run_id": "run_1", "technique_id": None}],
        poll_interval_ms=2000,
        ttl_ms=3_600_000,
    )


async def test_tasks_are_created_read_by_their_caller_only_and_updated(store: Store) -> None:
    await store.create_task(task("t1"))
    assert await store.get_task("t1", ALICE) == task("t1")
    assert await store.get_task("t1", BOB) is None
    assert await store.get_task("t2", ALICE) is None
    with pytest.raises(ValueError, match="already in use"):
        await store.create_task(task("t1"))
    updated = await store.update_task("t1", now=T0 + 1, status_message="2 of 3 runs done", cancel_requested=True)
    assert updated is not None and (updated.status, updated.status_message, updated.cancel_requested) == (
        "working",
        "2 of 3 runs done",
        True,
    )
    result = {"content": [{"type": "text", "text": "done"}], "isError": False}
    done = await store.update_task("t1", now=T0 + 2, status="completed", result=result, poll_interval_ms=500)
    assert done is not None and (done.status, done.result, done.poll_interval_ms, done.updated_at) == (
        "completed",
        result,
        500,
        T0 + 2,
    )
    assert await store.get_task("t1", ALICE) == done
    assert await store.update_task("nope", now=T0) is None


async def test_a_finished_task_stays_finished(store: Store) -> None:
    await store.create_task(task("t1"))
    await store.update_task("t1", now=T0 + 1, status="failed", status_message="run_1 failed")
    after = await store.update_task("t1", now=T0 + 2, status="working", status_message="again?")
    assert after is not None and (after.status, after.status_message) == ("failed", "run_1 failed")
    with pytest.raises(ValueError, match="task status must be one of"):
        await store.update_task("t1", now=T0 + 3, status="paused")


# -- identity --------------------------------------------------------------------------------


async def test_fingerprints_are_keyed_short_and_never_contain_the_key(store: Store) -> None:
    key = "fl_live_0123456789abcdef"
    fp = store.fingerprint(key)
    assert fp.startswith("c_") and len(fp) == 26 and key not in fp and "0123456789abcdef" not in fp
    assert store.fingerprint(key) == fp != store.fingerprint(key + "x")


async def test_meta_secrets_are_random_named_and_stable(store: Store) -> None:
    a = await store.meta_secret("request-state")
    assert len(a) == 32 and await store.meta_secret("request-state") == a != await store.meta_secret("other")


def test_reserve_request_refuses_non_finite_money() -> None:
    with pytest.raises(ValueError, match="quote_usd"):
        request("k", quote_usd=math.nan)
    with pytest.raises(ValueError, match="cap_usd"):
        request("k", cap_usd=-1.0)
