"""The end-to-end tests' trained market: trained once, copied by the tests that only serve it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import built_once
from tests.e2e.helpers import Market, small_market


@pytest.fixture(scope="session")
def trained_market(tmp_path_factory: pytest.TempPathFactory) -> Market:
    """Five skills over 40 weeks read from CSV, trained with ``gigcast-train run --horizon 12``.

    Its version 1 is @champion. Tests that need a model trained and registered by the real
    command, not training itself, serve or change a copy of it (``helpers.copied``): a training
    is most of such a test's time. Tests of training train their own. A file that uses it
    belongs in ``tests.conftest.TRAINED_MARKET_MODULES``, so that ``make test`` runs it on the
    worker that trains it.
    """

    def train(folder: Path) -> None:
        done = small_market(folder, seed=3, skills=5, suffix="csv").train(horizon=12)
        assert "→ @champion" in done.stderr

    folder = built_once(tmp_path_factory, "trained", train)
    return Market(folder, folder / "postings.csv")
