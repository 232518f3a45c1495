"""Settings: command-line flags over FLORA_* environment variables over defaults.

Nothing here reads the environment at import time; `Settings.from_environment()` does, when the
CLI builds the settings (`Settings(...)` alone is the defaults and what it is given, as tests
use it). The API key is a SecretStr so that a repr, a log line or a traceback of the settings
shows `**********`, never the key.

Every setting is one scalar value, so reading them is a plain lookup of FLORA_<NAME> (in any
case, as shells and client configs spell it) validated by the model itself; pydantic-settings,
which did this before, cost about 16 ms of every cold start for sources flora-mcp never used.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from flora_mcp.keys import key_problem

logger = logging.getLogger("flora_mcp")

DEFAULT_BASE_URL = "https://app.flora.ai/api/v1"


ENV_PREFIX = "FLORA_"


class Settings(BaseModel):
    """Everything flora-mcp can be told. Each field is also the env var FLORA_<NAME>."""

    # hide_input_in_errors: a refused value (the key above all) is never repeated in an error.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, hide_input_in_errors=True)

    @staticmethod
    def variable(field: str) -> str:
        """The environment variable that sets `field`: FLORA_<FIELD>."""
        return ENV_PREFIX + field.upper()

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, **given: Any) -> Settings:
        """`given` (the flags the user typed) over the FLORA_* variables of `environ` (os.environ) over defaults."""
        variables = os.environ if environ is None else environ
        by_name = {name.upper(): value for name, value in variables.items() if name.upper().startswith(ENV_PREFIX)}
        found = {field: by_name[cls.variable(field)] for field in cls.model_fields if cls.variable(field) in by_name}
        return cls(**{**found, **given})

    api_key: SecretStr | None = Field(default=None, description="FLORA API key (Bearer token).")
    base_url: str = Field(default=DEFAULT_BASE_URL, description="FLORA API base URL.")
    timeout: float = Field(default=30.0, gt=0, le=600, description="Seconds to wait for one FLORA answer.")
    max_retries: int = Field(default=2, ge=0, le=10, description="Retries of a failed call (same idempotency key).")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="WARNING", description="Level of the log lines written to stderr."
    )
    sandbox_time_scale: float = Field(
        default=1.0, ge=0, le=10, description="With --sandbox: multiplies simulated run durations (0 = instant)."
    )
    max_spend_usd: float | None = Field(
        default=None,
        ge=0,
        allow_inf_nan=False,
        description="Refuse starts once the runs this process started have cost this many USD (unset: no cap).",
    )
    confirm_above_usd: float | None = Field(
        default=None,
        ge=0,
        allow_inf_nan=False,
        description="Ask the user (MCP elicitation) before a start whose known cost is above this many USD.",
    )
    usd_per_credit: float = Field(
        default=0.001,
        gt=0,
        le=100,
        allow_inf_nan=False,
        description=(
            "USD per FLORA credit, to turn a model's estimated_credits into a USD estimate for the spend cap "
            "and the confirmation threshold (FLORA's guidance measured 1 credit as about 0.001 USD)."
        ),
    )
    strict_params: bool = Field(
        default=False,
        description=(
            "Refuse a start whose params or technique inputs cannot be checked against FLORA's catalog "
            "(GET /models, GET /techniques/{id} failed), instead of sending it unchecked."
        ),
    )
    read_only: bool = Field(default=False, description="Offer no start tools at all: nothing can be spent.")
    max_request_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="Largest MCP request accepted, in bytes: an HTTP body (413 above it) or one stdio line.",
    )
    previews: bool = Field(
        default=True,
        description="Return downscaled image previews of completed outputs (FLORA_PREVIEWS=off: links only).",
    )
    output_dir: Path | None = Field(
        default=None, description="Save every completed output into this folder once (unset: nothing is saved)."
    )
    input_dirs: str = Field(
        default="",
        description=(
            "Folders upload_asset may read local files from, separated by the OS path separator (stdio only; "
            "unset: no local file can be uploaded)."
        ),
    )
    media_origins: str = Field(
        default="https://media.flora.ai",
        description="Comma-separated origins FLORA serves output media from: the run viewer's CSP allows only these.",
    )
    max_output_bytes: int = Field(
        default=20 * 1024 * 1024,
        ge=1024,
        le=2 * 1024 * 1024 * 1024,
        description="Largest output fetched for a preview, a saved file or resources/read, in bytes.",
    )

    state_url: str | None = Field(
        default=None,
        description=(
            "Where the run journal and spend ledger live: memory, sqlite:///path/state.db or "
            "postgresql://user@host/db (unset: a SQLite file in the user's state directory)."
        ),
    )
    state_secret: SecretStr | None = Field(
        default=None, description="Key for caller fingerprints, shared by a fleet (unset: one kept in the store)."
    )
    spend_window: Literal["24h", "7d", "30d", "all", "process"] = Field(
        default="24h", description="The window FLORA_MAX_SPEND_USD applies over, per caller."
    )
    repeat_window_seconds: float = Field(
        default=600.0,
        ge=0,
        le=86400,
        allow_inf_nan=False,
        description="A start repeated within this many seconds answers the run already started (0: off).",
    )
    state_retention_days: float = Field(
        default=90.0, gt=0, le=3650, allow_inf_nan=False, description="Journal rows older than this are removed."
    )

    lend_server_key: bool = Field(
        default=False,
        description=(
            "Over HTTP, let a request that brings no key of its own use FLORA_API_KEY (off: such a request gets "
            "401). Only where whoever reaches the port may spend this key: behind a proxy that authenticates "
            "its users, say. stdio always uses FLORA_API_KEY."
        ),
    )
    # HTTP connection limits. The defaults suit a small machine (2 cores): far above what a few
    # agents need, low enough that a flood of idle or slow clients cannot take the server down.
    http_max_connections: int = Field(
        default=1000,
        ge=16,
        le=100_000,
        description="Open HTTP connections at most (also kept below the open-file limit); idle ones are dropped first.",
    )
    http_max_concurrency: int = Field(
        default=64, ge=1, le=10_000, description="MCP requests handled at once; more wait briefly, then get 503."
    )
    http_max_slow_bodies: int = Field(
        default=32,
        ge=1,
        le=10_000,
        description="Requests whose body is still arriving, at most (each holds up to FLORA_MAX_REQUEST_BYTES).",
    )
    http_header_timeout: float = Field(
        default=10.0, gt=0, le=600, description="Seconds a connection may take to send a request's headers."
    )
    http_body_timeout: float = Field(
        default=30.0, gt=0, le=3600, description="Seconds a request may take to send its body, once the headers are in."
    )
    http_write_timeout: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Seconds a client may read nothing of an answer the server is writing before it is disconnected.",
    )
    http_max_large_reads: int = Field(
        default=1,
        ge=1,
        le=1000,
        description=(
            "resources/read answers (an output's bytes, in base64) made and written at once over HTTP; more wait, "
            "then get a 'busy' error. Each takes about 4x the output's size in memory until written."
        ),
    )
    http_idle_timeout: float = Field(
        default=10.0, gt=0, le=3600, description="Seconds an idle keep-alive connection is kept open between requests."
    )

    @field_validator("api_key", mode="before")
    @classmethod
    def _checked_key(cls, value: object) -> object:
        # Checked here, at load, so a bad key stops the start with one line naming the variable,
        # instead of reaching an HTTP header whose error message would quote it.
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not isinstance(raw, str):
            return value
        key = raw.strip()
        if not key:
            return None  # FLORA_API_KEY= (set but empty) means no key
        problem = key_problem(key)
        if problem is not None:
            raise ValueError(f"FLORA_API_KEY {problem}")
        if key != raw:
            # A CRLF .env file or a pasted newline: harmless once stripped, but worth fixing.
            logger.warning("FLORA_API_KEY had spaces or a line break around it; they were removed")
        return key

    @field_validator("base_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("FLORA_BASE_URL must start with https:// (or http:// for a local sandbox)")
        return value

    @field_validator("output_dir", mode="before")
    @classmethod
    def _empty_dir_means_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("media_origins")
    @classmethod
    def _origins_are_origins(cls, value: str) -> str:
        for origin in (part.strip() for part in value.split(",") if part.strip()):
            scheme, sep, rest = origin.partition("://")
            if scheme not in ("http", "https") or not sep or not rest or "/" in rest.rstrip("/"):
                raise ValueError(f"FLORA_MEDIA_ORIGINS: {origin!r} is not an origin like https://media.flora.ai")
        return value

    @field_validator("input_dirs")
    @classmethod
    def _input_dirs_exist(cls, value: str) -> str:
        # Refused at start, not at the first upload: a mistyped folder would otherwise read as
        # "that file is outside the allowed folders" much later, for a reason nobody sees.
        for part in (p for p in value.split(os.pathsep) if p.strip()):
            if not Path(part.strip()).expanduser().is_dir():
                raise ValueError(f"FLORA_INPUT_DIRS: {part.strip()!r} is not a folder")
        return value

    def input_dir_list(self) -> list[Path]:
        """FLORA_INPUT_DIRS as real paths (symlinks resolved), the folders local uploads may come from."""
        parts = (p.strip() for p in self.input_dirs.split(os.pathsep) if p.strip())
        return [Path(p).expanduser().resolve() for p in parts]

    def media_origin_list(self) -> list[str]:
        """FLORA_MEDIA_ORIGINS as a list of origins without trailing slashes."""
        return [part.strip().rstrip("/") for part in self.media_origins.split(",") if part.strip()]

    @field_validator("max_spend_usd", "confirm_above_usd", mode="before")
    @classmethod
    def _empty_means_unset(cls, value: object) -> object:
        # FLORA_MAX_SPEND_USD= (set but empty) in a client's config means "no cap", not an error.
        return None if isinstance(value, str) and not value.strip() else value

    def store_url(self, *, sandbox: bool) -> str | None:
        """FLORA_STATE_URL; with the built-in sandbox and none given, memory (its runs end with the process)."""
        return self.state_url or ("memory" if sandbox else None)

    def state_secret_value(self) -> str | None:
        return self.state_secret.get_secret_value() if self.state_secret else None

    def api_key_value(self) -> str | None:
        """The key itself, for the one place that needs it: the Authorization header."""
        return self.api_key.get_secret_value() if self.api_key else None
