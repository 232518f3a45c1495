"""check_technique_inputs and check_inputs_unchecked for every input type: the declared type, the value's shape."""

from __future__ import annotations

from typing import Any

import pytest

from flora_mcp.api.models import StartTechniqueRun, Technique, TechniqueInput
from flora_mcp.runs.param_checks import check_inputs_unchecked, check_technique_inputs

TECHNIQUE = Technique(
    technique_id="tech_x",
    inputs=[
        {"id": "deck", "type": "documentUrl", "optional": True},
        {"id": "voices", "type": "audioUrl", "optional": True, "allow_multiple": True},
        {"id": "grid", "type": "json", "optional": True},
        {"id": "mesh", "type": "meshUrl", "optional": True},  # a type FLORA added after this server
    ],
)


def problems(*inputs: tuple[str, str, Any]) -> list[str]:
    given = [TechniqueInput.model_validate({"id": i, "type": t, "value": v}) for i, t, v in inputs]
    return [str(p) for p in check_technique_inputs(given, TECHNIQUE)]


def test_inputs_of_every_type_with_values_of_the_right_shape_pass() -> None:
    assert (
        problems(
            ("deck", "documentUrl", "https://media.flora.ai/a.pdf"),
            ("voices", "audioUrl", ["https://media.flora.ai/a.mp3", "http://media.flora.ai/b.wav"]),
            ("grid", "json", {"rows": [1, 2]}),
            ("mesh", "json", [1, 2, 3]),  # an unknown declared type: neither type nor value judged
        )
        == []
    )


def test_a_type_other_than_the_declared_one_is_refused_naming_it() -> None:
    assert problems(("deck", "imageUrl", "https://media.flora.ai/a.pdf")) == [
        "- inputs.deck: has type imageUrl but the input is of type documentUrl: give type documentUrl"
    ]
    assert problems(("grid", "text", "{}")) == [
        "- inputs.grid: has type text but the input is of type json: give type json"
    ]


@pytest.mark.parametrize("value", ["a.pdf", "javascript:alert(1)", 7, {"url": "https://media.flora.ai/a.pdf"}])
def test_a_url_type_takes_an_http_url_only(value: Any) -> None:
    assert problems(("deck", "documentUrl", value)) == ["- inputs.deck: must be an http(s) URL (documentUrl)"]


def test_a_json_list_is_one_value_and_a_url_list_is_several() -> None:
    assert problems(("grid", "json", [1, 2])) == []
    assert problems(("deck", "documentUrl", ["https://a.example/1.pdf", "https://a.example/2.pdf"])) == [
        "- inputs.deck: takes one value, not 2 (allow_multiple is not set)"
    ]


def test_without_the_technique_the_shape_is_checked_against_the_type_given() -> None:
    given = [
        TechniqueInput(id="voices", type="audioUrl", value="voice.mp3"),
        TechniqueInput(id="grid", type="json", value=[1, 2]),
        TechniqueInput(id="subject", type="text", value={"a": 1}),
    ]
    assert [str(p) for p in check_inputs_unchecked(given)] == [
        "- inputs.voices: must be an http(s) URL (audioUrl)",
        "- inputs.subject: must be text (a string)",
    ]


@pytest.mark.parametrize(
    "extra",
    [{}, {"callback_url": "https://hooks.example.com/f"}],
    ids=["no-workspace", "callback"],
)
@pytest.mark.parametrize(("kind", "value"), [("json", {"a": 1}), ("audioUrl", "https://a.example/a.mp3")])
def test_a_start_only_the_nested_route_can_take_refuses_what_it_cannot_carry(
    extra: dict[str, str], kind: str, value: Any
) -> None:
    with pytest.raises(ValueError, match="Give workspace_id with a tech_ id") as raised:
        StartTechniqueRun.model_validate(
            {"technique_id": "tech_x", "inputs": [{"id": "x", "type": kind, "value": value}], **extra}
        )
    assert f"'x' is of type {kind}" in str(raised.value)


def test_a_start_with_a_workspace_carries_every_type() -> None:
    start = StartTechniqueRun.model_validate(
        {
            "technique_id": "tech_x",
            "workspace_id": "ws_x",
            "inputs": [
                {"id": "g", "type": "json", "value": {"a": 1}},
                {"id": "d", "type": "documentUrl", "value": "x"},
            ],
        }
    )
    assert start.uses_top_level_route()
