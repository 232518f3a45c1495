"""Settings.from_environment: flags over FLORA_* variables over defaults, read as shells spell them."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from flora_mcp.config import Settings


def test_variables_are_read_in_any_case_and_flags_win_over_them() -> None:
    environ = {
        "FLORA_TIMEOUT": "12.5",
        "flora_max_retries": "4",
        "Flora_Read_Only": "true",
        "FLORA_PREVIEWS": "off",
        "FLORA_OUTPUT_DIR": "/tmp/out",
        "FLORA_API_KEY": "sk-env-1234",
        "FLORA_NOT_A_SETTING": "ignored",
        "TIMEOUT": "99",
    }
    settings = Settings.from_environment(environ, timeout=3.0)
    assert settings.timeout == 3.0, "the flag the user typed wins"
    assert settings.max_retries == 4 and settings.read_only is True and settings.previews is False
    assert settings.output_dir == Path("/tmp/out")
    assert settings.api_key_value() == "sk-env-1234" and "sk-env" not in repr(settings)
    assert settings.base_url == Settings().base_url, "unset: the default"


def test_an_empty_cap_means_no_cap_and_a_bad_value_names_its_field() -> None:
    assert Settings.from_environment({"FLORA_MAX_SPEND_USD": ""}).max_spend_usd is None
    with pytest.raises(ValidationError) as caught:
        Settings.from_environment({"FLORA_TIMEOUT": "soon"})
    assert caught.value.errors()[0]["loc"] == ("timeout",)
    assert "soon" not in str(caught.value), "refused values are not repeated"


def test_settings_built_in_code_read_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLORA_TIMEOUT", "7")
    assert Settings().timeout == Settings.model_fields["timeout"].default
    assert Settings.from_environment().timeout == 7.0
