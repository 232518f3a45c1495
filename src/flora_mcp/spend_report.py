"""`flora-mcp spend`: the caller's spend report from the state store, by day and by model or technique.

The caller is the fingerprint of FLORA_API_KEY under the store's secret (or FLORA_STATE_SECRET),
the same id the server books that key's starts under. Nothing here talks to FLORA; the report
is what the journal holds, from every process that shares the store.
"""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import UTC, datetime

from flora_mcp.state import StartRecord, open_store, redact

SEARCH_LIMIT = 100_000  # far more starts than anyone makes in a report's span


def _where(url: str | None) -> str:
    from flora_mcp.state import default_state_url

    return redact(url or default_state_url())


def _table(title: str, rows: dict[str, list[StartRecord]]) -> list[str]:
    lines = [title]
    for name in sorted(rows, reverse=title.startswith("By day")):
        group = rows[name]
        cost = sum(r.cost_usd for r in group)
        lines.append(f"  {name:<28} {len(group):>5} start(s) {cost:>12.4f} USD")
    return lines


def render(records: list[StartRecord], *, where: str, days: float, now: float) -> str:
    """The report's text: the store read, totals, then by day and by model or technique."""
    counted = [r for r in records if r.counts_against_cap]
    head = f"flora-mcp spend: the last {days:g} day(s) of the caller of FLORA_API_KEY, from the state store {where}"
    if not counted:
        return head + "\nNo starts in that span."
    by_day: dict[str, list[StartRecord]] = defaultdict(list)
    by_source: dict[str, list[StartRecord]] = defaultdict(list)
    for record in counted:
        by_day[datetime.fromtimestamp(record.created_at, UTC).date().isoformat()].append(record)
        source = f"technique {record.technique_id}" if record.technique_id else f"model {record.model_id or 'default'}"
        by_source[source].append(record)
    total = sum(r.cost_usd for r in counted)
    unsure = sum(r.cost_usd for r in counted if r.status in ("unknown", "in_flight"))
    lines = [head, f"Total: {total:.4f} USD over {len(counted)} start(s)"]
    if unsure:
        lines.append(f"  of which {unsure:.4f} USD for starts whose outcome is not known yet")
    lines += _table("By day (UTC):", by_day)
    lines += _table("By model or technique:", by_source)
    return "\n".join(lines)


async def spend_report(url: str | None, api_key: str, *, secret: str | None, days: float) -> str:
    """Open the store FLORA_STATE_URL names, read the key's starts of the last `days` days, render them."""
    now = time.time()
    async with open_store(url, secret=secret) as store:
        caller = store.fingerprint(api_key)
        records = await store.search(caller, since=now - days * 86400.0, limit=SEARCH_LIMIT)
    return render(records, where=_where(url), days=days, now=now)
