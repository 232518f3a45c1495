"""The money guard in front of every start: the quote, the spend cap and the user's confirmation.

It runs as the start tools' resolvers (mcp's `Resolve`), so before the tool body and before
anything is sent:

1. quote: what the start will cost, looked up only when a cap or a threshold needs it;
2. cap: refuse when the start would pass FLORA_MAX_SPEND_USD (see spending.py);
3. confirm: when the quote is above FLORA_CONFIRM_ABOVE_USD, ask the user (form elicitation).
   Declined or cancelled: nothing is sent. A client that cannot ask gets a refusal, not a
   silent start: the threshold is the user's "ask me first", and going ahead unasked would
   spend money nobody approved. (An unknown quote is not asked about; see quotes.py.)

In the 2026-07-28 protocol the question travels as an InputRequiredResult and the client calls
again with the answer; before it, as an elicitation/create request in the middle of the call.
mcp's Resolve drives both, and re-runs these resolvers each round (quotes are cached).

A retry with an idempotency key the ledger already holds is neither refused nor asked again:
FLORA cannot charge it twice. The tool body checks the cap once more when it reserves the
start's quote (`reserve`), the check that concurrent starts cannot slip past.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated, Any

from mcp.server.elicitation import AcceptedElicitation, ElicitationResult
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.resolve import Elicit, Resolve
from mcp_types.version import is_version_at_least
from pydantic import BaseModel, Field

from flora_mcp.server import preflight
from flora_mcp.server.preflight import Checked
from flora_mcp.server.quotes import NOT_LOOKED_UP, Quote
from flora_mcp.server.spending import Reservation, SpendCapReached, SpendLedger
from flora_mcp.server.state import AppState, state_of

logger = logging.getLogger("flora_mcp.server")

# The first revision that carries a question inside the tool call's result.
_INPUT_REQUIRED_VERSION = "2026-07-28"
_PROMPT_SHOWN = 200


class ConfirmStart(BaseModel):
    """The form a costly start shows the user."""

    confirm: bool = Field(
        title="Start this paid run?",
        description="Yes starts the run and FLORA charges for it; no sends nothing.",
    )


@dataclass(frozen=True)
class NotAsked:
    """The guard let the start through without a question, and why."""

    reason: str


Confirmation = ElicitationResult[ConfirmStart]


# --- quotes ------------------------------------------------------------------------------------
def _needs_quotes(state: AppState) -> bool:
    return state.ledger.cap_usd is not None or state.confirm_above_usd is not None


async def generation_quote(ctx: Context[Any], type: str, model: str | None) -> Quote:
    state = state_of(ctx)
    if not _needs_quotes(state):
        return NOT_LOOKED_UP
    return await state.quotes.generation(state.client_for(ctx), state.caller(ctx), type, model)


async def technique_quote(ctx: Context[Any], technique_id: str) -> Quote:
    state = state_of(ctx)
    if not _needs_quotes(state):
        return NOT_LOOKED_UP
    return await state.quotes.technique(state.client_for(ctx), state.caller(ctx), technique_id)


# --- confirmation ------------------------------------------------------------------------------
async def confirm_generation(
    ctx: Context[Any],
    type: str,
    prompt: str,
    model: str | None,
    idempotency_key: str | None,
    quote: Annotated[Quote, Resolve(generation_quote)],
    checked: Annotated[Checked, Resolve(preflight.generation_checked)],  # mistakes refused before asking
) -> Elicit[ConfirmStart] | NotAsked:
    shown = prompt if len(prompt) <= _PROMPT_SHOWN else prompt[:_PROMPT_SHOWN] + "…"
    what = f"a {type} generation" + (f" with {model}" if model else "") + f" of {shown!r}"
    return _guard(ctx, "start_generation_run", what, idempotency_key, quote)


async def confirm_technique(
    ctx: Context[Any],
    technique_id: str,
    idempotency_key: str | None,
    quote: Annotated[Quote, Resolve(technique_quote)],
    checked: Annotated[Checked, Resolve(preflight.technique_checked)],  # mistakes refused before asking
) -> Elicit[ConfirmStart] | NotAsked:
    return _guard(ctx, "start_technique_run", f"a run of technique {technique_id}", idempotency_key, quote)


def _guard(ctx: Context[Any], tool: str, what: str, key: str | None, quote: Quote) -> Elicit[ConfirmStart] | NotAsked:
    state = state_of(ctx)
    if state.ledger.knows(key):
        return NotAsked("a retry of a start already sent with this idempotency key")
    try:
        state.ledger.check(key, quote.usd)
    except SpendCapReached as exc:
        raise ToolError(cap_text(exc, tool, quote)) from None
    threshold = state.confirm_above_usd
    if threshold is None or quote.usd is None or quote.usd <= threshold:
        return NotAsked("no confirmation threshold applies")
    if not client_can_ask(ctx):
        logger.warning("refused a start above the confirmation threshold: the client cannot ask the user")
        raise ToolError(cannot_ask_text(tool, quote, threshold))
    message = (
        f"flora-mcp is about to start {what} on FLORA, quoted at {quote.describe()}: above your confirmation "
        f"threshold of {threshold:g} USD. {spend_line(state.ledger)} Start it?"
    )
    return Elicit(message, ConfirmStart)


def client_can_ask(ctx: Context[Any]) -> bool:
    """Whether this client can show the user a form now (declared form elicitation, and a way to send it)."""
    capabilities = ctx.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    # A bare `elicitation: {}` predates modes and means form support; url-only does not.
    if elicitation is None or (elicitation.form is None and elicitation.url is not None):
        return False
    version = ctx.protocol_version
    if version is not None and is_version_at_least(version, _INPUT_REQUIRED_VERSION):
        return True
    # Older revisions send a request mid-call, which needs a back channel (stateless HTTP has none).
    return bool(ctx.session.can_send_request)


def require_consent(confirmation: Confirmation, tool: str, quote: Quote) -> None:
    """Raise the 'declined' tool error unless the guard let the start through (not asked, or a yes)."""
    if isinstance(confirmation, AcceptedElicitation):
        # Resolve hands a NotAsked through as accepted data, not as a ConfirmStart.
        if not isinstance(confirmation.data, ConfirmStart) or confirmation.data.confirm:
            return
        action = "declined"
    else:
        action = "declined" if confirmation.action == "decline" else "cancelled"
    raise ToolError(
        f"The user {action} this start, quoted at {quote.describe()}. Nothing was sent to FLORA and nothing was "
        "charged.\n"
        f"Next step: do not call {tool} again for this unless the user asks; ask them what to change."
    )


def reserve(state: AppState, key: str, quote: Quote, *, tool: str, owner: str) -> Reservation:
    """Book the start against the cap (the authoritative check), or refuse it with nothing sent."""
    try:
        return state.ledger.reserve(key, quote.usd, tool=tool, owner=owner)
    except SpendCapReached as exc:
        raise ToolError(cap_text(exc, tool, quote)) from None


# --- texts -------------------------------------------------------------------------------------
def spend_line(ledger: SpendLedger) -> str:
    """One sentence on the session's spend, for start results and questions."""
    text = f"Session spend: {ledger.spent_usd:g} USD on {ledger.starts} start(s)"
    if ledger.unconfirmed_usd:
        text += f", plus {ledger.unconfirmed_usd:g} USD whose outcome is unknown"
    if ledger.unpriced:
        text += f"; {ledger.unpriced} start(s) of unknown cost count as 0"
    if ledger.cap_usd is None:
        return text + " (no spend cap set)."
    return text + f" (cap {ledger.cap_usd:g} USD, {ledger.remaining_usd or 0:g} USD left)."


def cap_text(exc: SpendCapReached, tool: str, quote: Quote) -> str:
    lines = [
        f"Spend cap reached: flora-mcp has committed {exc.committed:g} USD in this session "
        f"({exc.spent:g} USD spent on runs it started) and the cap is {exc.cap:g} USD "
        "(FLORA_MAX_SPEND_USD or --max-spend-usd).",
        f"This start ({quote.describe()}) was refused; nothing was sent to FLORA.",
    ]
    if quote.upper_bound:
        lines.append("Passing an explicit model from list_models gives an exact quote, which may fit.")
    lines.append(
        "Next step: stop and tell the user. Only they can raise the cap: restart flora-mcp with a higher "
        "FLORA_MAX_SPEND_USD (or --max-spend-usd). get_session_spend lists this session's runs and spend."
    )
    return "\n".join(lines)


def cannot_ask_text(tool: str, quote: Quote, threshold: float) -> str:
    return (
        f"This start is quoted at {quote.describe()}, above the confirmation threshold of {threshold:g} USD "
        "(FLORA_CONFIRM_ABOVE_USD or --confirm-above-usd), and flora-mcp cannot ask the user to confirm "
        "(this client does not support elicitation, or this connection cannot carry the question). "
        "Nothing was sent to FLORA.\n"
        f"Next step: stop and tell the user. To allow starts like this one they can raise or unset "
        f"FLORA_CONFIRM_ABOVE_USD, or use a client that supports elicitation; then call {tool} again."
    )
