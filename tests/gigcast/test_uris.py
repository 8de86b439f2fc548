from __future__ import annotations

import pytest

from gigcast.uris import masked


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("postgresql://analyst:s3cret@db:5432/platform", "postgresql://analyst:***@db:5432/platform"),
        (
            "postgresql://analyst@db/platform?password=s3cret&sslmode=require",
            "postgresql://analyst@db/platform?password=***&sslmode=require",
        ),
        ("http://u:p%40ss@mlflow.internal:5000", "http://u:***@mlflow.internal:5000"),
        ("sqlite:///mlflow.db", "sqlite:///mlflow.db"),
        ("postgresql://analyst@db/platform", "postgresql://analyst@db/platform"),
    ],
)
def test_passwords_are_masked_wherever_the_uri_holds_them(uri: str, shown: str) -> None:
    assert masked(uri) == shown
