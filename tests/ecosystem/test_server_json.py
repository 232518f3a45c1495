"""server.json, the MCP Registry entry: valid for the registry and true to the package it names."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from flora_mcp import __version__
from flora_mcp.cli import build_parser
from flora_mcp.config import DEFAULT_BASE_URL, Settings

ROOT = Path(__file__).resolve().parents[2]
# The registry's schema, vendored with its source named in data/README.md: tests read nothing
# outside the repository.
SCHEMA = Path(__file__).resolve().parent / "data" / "server.schema.json"


@pytest.fixture(scope="module")
def server() -> dict[str, Any]:
    return json.loads((ROOT / "server.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def package(server: dict[str, Any]) -> dict[str, Any]:
    (package,) = server["packages"]
    return package


def test_server_json_is_valid_against_the_registry_schema(server: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(server)]
    assert problems == []


def test_server_json_and_its_package_carry_the_package_version(server: dict[str, Any], package: dict[str, Any]) -> None:
    assert server["version"] == __version__
    assert package["version"] == __version__


def test_the_package_is_the_pypi_project_run_with_uvx_over_stdio(package: dict[str, Any]) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert package["registryType"] == "pypi"
    assert package["identifier"] == project["name"]
    assert package["runtimeHint"] == "uvx"
    assert package["transport"] == {"type": "stdio"}
    # uvx runs the console script named like the package: it must exist.
    assert package["identifier"] in project["scripts"]


def test_the_api_key_is_a_required_secret_and_the_base_url_is_optional(package: dict[str, Any]) -> None:
    variables = {v["name"]: v for v in package["environmentVariables"]}
    assert set(variables) == {"FLORA_API_KEY", "FLORA_BASE_URL"}
    assert variables["FLORA_API_KEY"]["isRequired"] is True
    assert variables["FLORA_API_KEY"]["isSecret"] is True
    assert variables["FLORA_BASE_URL"].get("isRequired", False) is False
    assert variables["FLORA_BASE_URL"].get("isSecret", False) is False
    assert variables["FLORA_BASE_URL"]["default"] == DEFAULT_BASE_URL


def test_every_environment_variable_is_a_setting_flora_mcp_reads(package: dict[str, Any]) -> None:
    readable = {Settings.variable(name) for name in Settings.model_fields}
    assert {v["name"] for v in package["environmentVariables"]} <= readable


def test_every_package_argument_is_a_flag_the_cli_accepts_as_described(package: dict[str, Any]) -> None:
    options = build_parser()._option_string_actions
    named = [argument for argument in package["packageArguments"] if argument["type"] == "named"]
    assert {"--transport", "--host", "--port"} <= {argument["name"] for argument in named}
    for argument in named:
        action = options[argument["name"]]
        if "choices" in argument:
            assert list(argument["choices"]) == list(action.choices or []), argument["name"]
        if "default" in argument and action.default is not None:
            assert argument["default"] == str(action.default), argument["name"]
        assert argument.get("isRepeated", False) == (action.__class__.__name__ == "_AppendAction"), argument["name"]


def test_the_transport_argument_defaults_to_the_stdio_transport_the_package_declares(package: dict[str, Any]) -> None:
    (transport,) = [a for a in package["packageArguments"] if a.get("name") == "--transport"]
    assert transport["default"] == package["transport"]["type"]
    assert build_parser().parse_args([]).transport == "stdio"


def test_the_registry_name_belongs_to_the_repository_owner(server: dict[str, Any]) -> None:
    # The registry only lets the GitHub owner publish io.github.<owner>/* names.
    namespace, _, _ = server["name"].partition("/")
    owner = server["repository"]["url"].removeprefix("https://github.com/").split("/")[0]
    assert namespace == f"io.github.{owner}"
    assert server["repository"]["source"] == "github"


def test_the_readme_carries_the_registry_ownership_line(server: dict[str, Any]) -> None:
    # PyPI packages prove their registry name with this line in the package's README.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"mcp-name: {server['name']}" in readme
