"""Fixtures for the ecosystem tests: repository paths, the example pipeline as a module."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def load_example(name: str) -> ModuleType:
    """Import examples/<name>.py (examples/ is not a package: users run its files directly)."""
    module_name = f"flora_example_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered before running it so that dataclasses can resolve the module's own names.
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def pipeline() -> ModuleType:
    return load_example("pipeline")
