"""Source media on generation starts (runs/source_media.py): the param a model's id implies, checked.

FLORA does not list these params and ignores the wrong form (a blind, billed run), so each
refusal must name the form that works.
"""

from __future__ import annotations

from typing import Any

import pytest

from flora_mcp.api.models import Model, ModelParam
from flora_mcp.runs.param_checks import check_generation_params, check_param_names
from flora_mcp.runs.source_media import RULES, implied_rule

URL = "https://media.flora.ai/cat.png"
T2I = Model(model_id="t2i-x", type="image", params=[ModelParam(name="aspect_ratio", type="string")])
I2I = Model(model_id="i2i-edit", type="image", params=[])
I2V = Model(model_id="i2v-animate", type="video", params=[ModelParam(name="duration", type="int")])
I2T = Model(model_id="i2t-describe", type="text")
V2T = Model(model_id="v2t-watch", type="text")
R2V = Model(model_id="r2v-refs", type="video")
VREF = Model(model_id="t2v-kling-vref", type="video")


def problems(params: dict[str, Any], model: Model, models: list[Model] | None = None) -> list[str]:
    return [str(p) for p in check_generation_params(params, model, models or [])]


@pytest.mark.parametrize(
    ("model", "param", "form"),
    [
        (I2I, "image_url", "one"),
        (I2V, "image_url", "one"),
        (I2T, "image_urls", "list"),
        (V2T, "video_urls", "list"),
        (R2V, "image_urls", "list"),
        (VREF, "image_urls", "list"),
    ],
)
def test_each_prefix_implies_its_param_and_form(model: Model, param: str, form: str) -> None:
    rule = implied_rule(model)
    assert rule is not None and (rule.param, rule.form) == (param, form)


def test_models_without_a_source_prefix_have_no_rule_and_the_rules_are_one_table() -> None:
    assert implied_rule(T2I) is None
    assert {r.pattern for r in RULES} == {"i2i-", "i2v-", "i2t-", "v2t-", "r2v-", "-vref"}


def test_the_right_form_with_http_urls_passes_beside_published_params() -> None:
    assert problems({"image_url": URL, "duration": 5}, I2V) == []
    assert problems({"image_url": "http://example.com/a.jpg"}, I2I) == []
    assert problems({"image_urls": [URL, "https://media.flora.ai/dog.png"]}, I2T) == []
    assert problems({"video_urls": ["https://media.flora.ai/clip.mp4"]}, V2T) == []
    assert problems({"image_urls": [URL, URL, URL]}, R2V) == []


def test_plural_to_a_one_url_model_names_the_right_param() -> None:
    (problem,) = problems({"image_urls": [URL]}, I2V)
    assert problem.startswith("- params.image_urls:")
    assert "i2v-… models take params.image_url, one URL; you sent image_urls" in problem
    assert "blind" in problem


def test_singular_to_a_list_model_names_the_right_param() -> None:
    (problem,) = problems({"image_url": URL}, I2T)
    assert "i2t-… models take params.image_urls, a list of URLs; you sent image_url" in problem


def test_the_other_media_name_is_refused_naming_the_one_the_model_takes() -> None:
    (problem,) = problems({"video_urls": [URL]}, I2V)
    assert "take params.image_url, one URL; you sent video_urls" in problem


def test_the_right_name_in_the_wrong_shape_is_refused_with_the_shape_that_works() -> None:
    (as_list,) = problems({"image_url": [URL]}, I2V)
    assert "takes one URL string, not a list" in as_list and 'params.image_url: "https://…"' in as_list
    (as_string,) = problems({"image_urls": URL}, I2T)
    assert "takes a list of URLs, not a string" in as_string and 'params.image_urls: ["https://…"]' in as_string


@pytest.mark.parametrize(
    ("model", "params", "expected"),
    [
        (I2V, {"image_url": "file:///etc/passwd"}, "must be an http(s) URL"),
        (I2V, {"image_url": 7}, "must be an http(s) URL"),
        (I2T, {"image_urls": []}, "one or more http(s) URLs"),
        (I2T, {"image_urls": [URL, "ftp://x/y.png"]}, "item 1 must be an http(s) URL"),
        (V2T, {"video_urls": [URL, None]}, "item 1 must be an http(s) URL"),
    ],
)
def test_a_source_that_is_not_an_http_url_is_refused(model: Model, params: dict[str, Any], expected: str) -> None:
    (problem,) = problems(params, model)
    assert expected in problem


def test_a_model_that_takes_no_source_refuses_one_naming_the_models_of_its_type_that_do() -> None:
    (problem,) = problems({"image_url": URL}, T2I, [T2I, I2I])
    assert "model t2i-x takes no source media" in problem
    assert "image models that take params.image_url: i2i-edit" in problem


def test_when_no_model_of_the_type_takes_that_name_the_refusal_names_those_that_take_any_source() -> None:
    (problem,) = problems({"image_urls": [URL]}, T2I, [T2I, I2I])
    assert "image models that take a source: i2i-edit" in problem
    (alone,) = problems({"image_url": URL}, T2I, [T2I])
    assert "no image model listed takes a source" in alone


def test_other_unknown_names_stay_refused_as_before() -> None:
    (problem,) = problems({"image": URL}, I2V)
    assert "model i2v-animate has no such param (its params: duration)" in problem


def test_a_media_param_flora_publishes_wins_over_the_rule() -> None:
    # This i2v model publishes image_urls: what FLORA publishes is checked, the implied image_url is not taken.
    published = Model(model_id="i2v-multi", params=[ModelParam(name="image_urls", type="string[]")])
    assert implied_rule(published) is None
    assert problems({"image_urls": [URL, "https://media.flora.ai/b.png"]}, published) == []
    (problem,) = problems({"image_url": URL}, published)
    assert "model i2v-multi has no such param (its params: image_urls)" in problem
    (typed,) = problems({"image_urls": URL}, published)
    assert "must be a list of strings" in typed


def test_without_a_known_model_a_source_some_model_of_the_type_takes_is_not_refused() -> None:
    assert check_param_names({"image_url": URL}, [T2I, I2I], "image") == []
    (problem,) = check_param_names({"video_urls": [URL]}, [T2I, I2I], "image")
    assert problem.where == "params.video_urls"
