"""What a sandbox is told at birth: its key(s), credits, speed, rate limit and failure marker."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SandboxConfig:
    api_key: str = "sk-sandbox"  # the accepted key; any other answers 401 unauthorized
    extra_api_keys: tuple[str, ...] = ()  # more accepted keys (multi-client tests), same workspace
    credits_usd: float = 100.0
    time_scale: float = 1.0  # multiplies simulated run durations; 0 -> runs complete on first read
    rate_limit_per_second: float | None = None  # per key; over it -> 429 rate_limited with Retry-After
    fail_marker: str = "[fail]"  # a prompt or technique input containing this fails with provider_error
    image_size: int = 64  # side of the square PNG an image run outputs (1024: a one-megapixel image)

    def accepted_keys(self) -> tuple[str, ...]:
        return (self.api_key, *self.extra_api_keys)

    def __repr__(self) -> str:
        # The keys are secrets even in a sandbox: a repr in a log or traceback must not show them.
        return (
            f"SandboxConfig(api_key='***', extra_api_keys=<{len(self.extra_api_keys)}>, "
            f"credits_usd={self.credits_usd}, time_scale={self.time_scale}, "
            f"rate_limit_per_second={self.rate_limit_per_second}, fail_marker={self.fail_marker!r}, "
            f"image_size={self.image_size})"
        )
