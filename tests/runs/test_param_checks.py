"""The pure param and input checks (param_checks.py), rule by rule."""

from __future__ import annotations

from typing import Any

import pytest

from flora_mcp.api.models import Model, ModelParam, Technique, TechniqueInput
from flora_mcp.runs.param_checks import check_generation_params, check_param, check_technique_inputs


def param(kind: str, **extra: Any) -> ModelParam:
    return ModelParam(name="p", type=kind, **extra)


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [
        ("string", "x", 1),
        ("string[]", ["a", "b"], ["a", 2]),
        ("bool", False, 0),
        ("int", 5.0, True),
        ("int?", None, 1.5),
        ("seed", 42, "42"),
        ("float", 3, float("nan")),
        ("dict", {"a": 1}, ["a"]),
    ],
)
def test_each_published_type_accepts_its_values_and_refuses_others(kind: str, good: Any, bad: Any) -> None:
    assert check_param(param(kind), good) is None
    assert check_param(param(kind), bad) is not None


def test_a_type_this_server_does_not_know_is_not_judged_and_does_not_stop_the_others() -> None:
    model = Model(
        model_id="m",
        params=[ModelParam(name="new", type="vector3"), ModelParam(name="n", type="int", min=1, max=3)],
    )
    problems = check_generation_params({"new": object(), "n": 9}, model)
    assert [p.where for p in problems] == ["params.n"]


def test_options_come_as_label_value_objects_or_bare_values_and_numbers_compare_as_json() -> None:
    assert check_param(param("string", options=[{"label": "A", "value": "a"}]), "a") is None
    assert check_param(param("int", options=[1, 2]), 2.0) is None
    assert "allowed options 1, 2; default 1" in (check_param(param("int", options=[1, 2], default=1), 3) or "")
    assert check_param(param("bool", options=[1]), True) is not None  # true is not 1


def test_min_and_max_bound_numbers_only_and_name_the_range() -> None:
    assert check_param(param("float", min=0, max=1), 1.5) == "must be within 0..1"
    assert check_param(param("float", min=0), -1) == "must be within 0..∞"
    assert check_param(param("string", min=0, max=1), "long") is None


def test_a_json_technique_input_takes_any_json_even_a_list() -> None:
    technique = Technique(
        technique_id="tech_x",
        inputs=[{"id": "grid", "type": "json", "optional": True}, {"id": "s", "type": "text", "optional": False}],
    )
    inputs = [TechniqueInput(id="s", type="text", value="a"), TechniqueInput(id="grid", type="json", value=[1, 2])]
    assert check_technique_inputs(inputs, technique) == []
    assert check_technique_inputs([], technique)[0].where == "inputs.s"
