"""The user's consent to a costly start, and the quote it is asked about.

Both run as the start tools' resolvers (mcp's `Resolve`), before the tool body and before
anything is sent:

1. quote: what the start will cost, looked up only when a cap or a threshold needs it;
2. consent: when the quote is above FLORA_CONFIRM_ABOVE_USD, ask the user (form elicitation).
   Declined or cancelled: nothing is sent. A client that cannot ask gets a refusal, not a
   silent start: the threshold is the user's "ask me first", and going ahead unasked would
   spend money nobody approved. (An unknown quote is not asked about; see quotes.py.)
   A start the booking already holds (a retry with its key, a repeat) is not asked about
   again, and one the cap would refuse is refused before anybody is asked.

In the 2026-07-28 protocol the question travels as an InputRequiredResult and the client calls
again with the answer (any replica can take that second round: the request-state key comes
from the shared store); before it, as an elicitation/create request in the middle of the call.
mcp's Resolve drives both and re-runs these resolvers each round (quotes are cached).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mcp.server.elicitation import AcceptedElicitation, ElicitationResult
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.resolve import Elicit
from mcp_types.version import is_version_at_least
from pydantic import BaseModel, Field

from flora_mcp.runs.booking import asks_about
from flora_mcp.runs.plan import StartPlan
from flora_mcp.runs.quotes import NOT_LOOKED_UP, Quote
from flora_mcp.server.context import AppState, state_of

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
    """The start goes ahead without a question, and why."""

    reason: str


Confirmation = ElicitationResult[ConfirmStart]


# --- quotes ------------------------------------------------------------------------------------
def _needs_quotes(state: AppState) -> bool:
    return state.booking.cap_usd is not None or state.confirm_above_usd is not None


async def quote_generation(ctx: Context[Any], type: str, model: str | None) -> Quote:
    state = state_of(ctx)
    if not _needs_quotes(state):
        return NOT_LOOKED_UP
    who = state.caller(ctx)
    return await state.quotes.generation(who.client, who.fingerprint, type, model)


async def quote_technique(ctx: Context[Any], technique_id: str) -> Quote:
    state = state_of(ctx)
    if not _needs_quotes(state):
        return NOT_LOOKED_UP
    who = state.caller(ctx)
    return await state.quotes.technique(who.client, who.fingerprint, technique_id)


async def quote_action(ctx: Context[Any], action_id: str) -> Quote:
    state = state_of(ctx)
    if not _needs_quotes(state):
        return NOT_LOOKED_UP
    who = state.caller(ctx)
    return await state.quotes.action(who.client, who.fingerprint, action_id)


# --- consent -----------------------------------------------------------------------------------
def shown_prompt(prompt: str) -> str:
    return prompt if len(prompt) <= _PROMPT_SHOWN else prompt[:_PROMPT_SHOWN] + "…"


async def ask_if_costly(
    ctx: Context[Any], plan: Callable[[], StartPlan], quote: Quote, *, batch: Sequence[StartPlan] | None = None
) -> Elicit[ConfirmStart] | NotAsked:
    """The question to put to the user before the start `plan()` describes goes out, or why none is needed.

    `plan` is called only when there is a question (or a batch's cap decision) to describe: a
    start under the confirmation threshold builds no plan here. For a batch, the plan describes
    the batch as a whole, `batch` holds its items and `quote` is their total: one question, and
    one cap decision, for all of them.
    """
    state = state_of(ctx)
    threshold = state.confirm_above_usd
    asks = asks_about(quote, threshold)  # the consent rule is the core's (runs/booking.py)
    if batch is None and not asks:
        # No question: reserving the start checks its key and the cap anyway.
        return NotAsked("no confirmation threshold applies")
    start = plan()
    if batch is not None:
        # Also the batch's one cap decision, asked or not: a batch over the cap is refused whole.
        needed = await state.booking.needs_batch_consent(state.caller(ctx), batch, quote)
    else:
        needed = await state.booking.needs_consent(state.caller(ctx), start, quote, threshold)
    if not needed:
        return NotAsked("a retry or repeat of a start already booked")
    if not asks or threshold is None:
        return NotAsked("no confirmation threshold applies")
    if not client_can_ask(ctx):
        logger.warning("refused a start above the confirmation threshold: the client cannot ask the user")
        raise ToolError(cannot_ask_text(start.tool, quote, threshold))
    spend = await state.booking.spend_line(state.caller(ctx).fingerprint)
    message = f"flora-mcp is about to start {start.describe} on FLORA, {_against(quote, threshold)}. {spend} Start it?"
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


def _against(quote: Quote, threshold: float) -> str:
    """How the quote stands against the threshold, in words: above it, or not known to be under it."""
    if quote.usd is None:
        return f"whose {quote.describe()} may be above your confirmation threshold of {threshold:g} USD"
    return f"quoted at {quote.describe()}: above your confirmation threshold of {threshold:g} USD"


def cannot_ask_text(tool: str, quote: Quote, threshold: float) -> str:
    return (
        f"This start, {_against(quote, threshold)} (FLORA_CONFIRM_ABOVE_USD or --confirm-above-usd), "
        "and flora-mcp cannot ask the user to confirm "
        "(this client does not support elicitation, or this connection cannot carry the question). "
        "Nothing was sent to FLORA.\n"
        f"Next step: stop and tell the user. To allow starts like this one they can raise or unset "
        f"FLORA_CONFIRM_ABOVE_USD, or use a client that supports elicitation; then call {tool} again."
    )
