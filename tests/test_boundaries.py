"""The dependency direction holds: contracts ← training, contracts ← service, stubs and query ← client.

Inside training the data flows one way too: data and forecasting stand alone, market and
monitoring build on both, the registry knows none of them, and only the pipeline and the jobs
bring them together.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def loaded_after(code: str) -> set[str]:
    """Every module loaded in a fresh interpreter after running ``code``."""
    code += "\nimport json, sys\nprint(json.dumps(list(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return set(json.loads(out))


def imported_by(*modules: str) -> set[str]:
    """The top-level packages that importing ``modules`` loads."""
    return {name.split(".")[0] for name in loaded_after("".join(f"import {m}\n" for m in modules))}


def subpackage_imports(package: str) -> set[str]:
    """The training subpackages and modules that importing every module of ``package`` loads."""
    code = (
        "import importlib, pkgutil\n"
        f"import {package} as package\n"
        "for found in pkgutil.walk_packages(package.__path__, package.__name__ + '.'):\n"
        "    importlib.import_module(found.name)\n"
    )
    return {".".join(name.split(".")[:2]) for name in loaded_after(code) if name.startswith("training.")}


@pytest.mark.parametrize(
    ("package", "allowed"),
    [
        ("training.data", set()),
        ("training.forecasting", set()),
        ("training.market", {"training.data", "training.forecasting"}),
        ("training.monitoring", {"training.data", "training.forecasting"}),
        ("training.registry", set()),
    ],
)
def test_training_subpackages_import_only_upstream(package: str, allowed: set[str]) -> None:
    loaded = subpackage_imports(package)
    assert package in loaded  # the walk found its modules
    assert loaded - {package} <= allowed, f"{package} imports {sorted(loaded - {package} - allowed)}"


def test_service_never_imports_training_or_prophet() -> None:
    loaded = imported_by("service.cli", "service.server", "service.handlers", "service.store")
    assert not loaded & {"training", "prophet", "cmdstanpy", "pandas"}
    assert "mlflow" not in loaded  # only the children of service.registry import it


@pytest.mark.parametrize("module", ["client.cli"])
def test_client_imports_nothing_heavy(module: str) -> None:
    loaded = imported_by(module)
    assert not loaded & {"polars", "mlflow", "prophet", "pandas", "numpy", "ray", "training", "service"}
