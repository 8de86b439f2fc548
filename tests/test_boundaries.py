"""The dependency direction holds: contracts ← training, contracts ← service, stubs ← client."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def imported_by(*modules: str) -> set[str]:
    code = (
        "import json, sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + "print(json.dumps(list(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return {name.split(".")[0] for name in json.loads(out)}


def test_service_never_imports_training_or_prophet() -> None:
    loaded = imported_by("service.cli", "service.server", "service.handlers", "service.store")
    assert not loaded & {"training", "prophet", "cmdstanpy", "pandas"}
    assert "mlflow" not in loaded  # imported only when a bundle is fetched


@pytest.mark.parametrize("module", ["client.cli"])
def test_client_imports_nothing_heavy(module: str) -> None:
    loaded = imported_by(module)
    assert not loaded & {"polars", "mlflow", "prophet", "pandas", "numpy", "ray", "training", "service"}
