"""The product's rules for FLORA runs, free of MCP: what flora-mcp promises, testable on its own.

- a paid start: the booking (booking.py: keys, the consent rule, the cap, send, settle), its
  plan (plan.py), idempotency keys (keys.py), quotes (quotes.py), the search for a run whose
  answer was lost (recovery.py), and what each refusal says (refusals.py, texts.py);
- the catalog checks in front of every start (catalog.py, param_checks.py, preflight.py);
- following a run: the next call, the polling cadence and progress (following.py);
- the background upkeep of the journal: late charges, starts left in flight, retention (upkeep.py).

Everything here takes a `Caller` (caller.py) and raises `Refusal`s; the MCP layer (server/)
resolves the caller once per request and words refusals as tool errors. Nothing here imports
`mcp` or `flora_mcp.server`: a contract in pyproject.toml, checked in CI, keeps it so.
"""
