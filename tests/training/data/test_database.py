"""Postings read from a real PostgreSQL: a table, a query with a join, bad types, a dropped
connection, bad credentials. Each test gets a database of its own (``database`` fixture)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import adbc_driver_postgresql.dbapi
import polars as pl
import psycopg
import pyarrow.parquet as pq
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from gigcast.settings import CHAMPION_ALIAS, EXPERIMENT_NAME
from gigcast.taxonomy import Taxonomy
from gigcast.uris import masked
from gigcast.v1 import forecast_pb2 as pb
from service.registry import Alias
from service.store import fetch
from tests.conftest import END
from tests.serving import LOOPBACK, started
from training.cli import app
from training.data.columns import KEPT
from training.data.database import DatabaseError, DatabaseSource, copy_to_parquet
from training.data.ingest import IngestError, ingest
from training.data.store import merge, stored
from training.data.synth import synthesize
from training.job import JobConfig, run_job


def load(uri: str, table: str, frame: pl.DataFrame) -> None:
    with adbc_driver_postgresql.dbapi.connect(uri) as connection:
        frame.write_database(table, connection, engine="adbc")


def execute(uri: str, *statements: str) -> None:
    with psycopg.connect(uri) as connection:
        for statement in statements:
            connection.execute(statement)


@pytest.fixture(scope="module")
def postings() -> pl.DataFrame:
    """A small market with about 2% of its rows broken as real exports are."""
    return synthesize(skills=5, weeks=20, end=END, seed=3, messy=0.02).postings


def test_a_table_reads_as_the_same_rows_in_a_file_do(
    database: str, postings: pl.DataFrame, taxonomy: Taxonomy, tmp_path: Path
) -> None:
    load(database, "postings", postings)
    file = tmp_path / "postings.parquet"
    postings.write_parquet(file)
    from_file = ingest([file], taxonomy=taxonomy)
    from_table = ingest([DatabaseSource(uri=database, table="postings")], taxonomy=taxonomy)

    assert from_table.rows == postings.height == from_table.accepted.height + from_table.quarantined.height
    order = ["posting_id"]
    assert from_table.accepted.sort(order).equals(from_file.accepted.sort(order))
    assert from_table.reasons() == from_file.reasons() and from_table.quarantined.height > 0
    label = f"{database} table postings"
    assert set(from_table.quarantined["source"]) == {label}
    assert list(from_table.columns) == [label]


def test_a_query_with_a_join_reads_its_own_columns(
    database: str, postings: pl.DataFrame, taxonomy: Taxonomy
) -> None:
    unique = postings.unique("posting_id", keep="first")  # one client row per job
    jobs = unique.select("posting_id", "posted_at", "skills", "hourly_rate", "experience_level", "country")
    clients = unique.select("posting_id", client_country="country")
    load(database, "jobs", jobs.drop("country"))
    load(database, "clients", clients)
    query = (
        "SELECT j.posting_id AS uid, j.posted_at AS published_on, j.skills, j.hourly_rate, "
        "j.experience_level, c.client_country FROM jobs j JOIN clients c USING (posting_id)"
    )
    source = DatabaseSource(uri=database, query=query)
    result = ingest(
        [source],
        taxonomy=taxonomy,
        columns={"posting_id": "uid", "posted_at": "published_on", "country": "client_country"},
    )
    assert result.rows == unique.height
    assert result.accepted["country"].drop_nulls().n_unique() > 1  # the joined column was read
    assert result.columns[source.label]["country"] == "client_country"


def test_wrong_types_and_nulls_are_quarantined_with_their_reasons(database: str, taxonomy: Taxonomy) -> None:
    execute(
        database,
        "CREATE TABLE postings (posting_id integer, posted_at timestamptz, skills text, hourly_rate text)",
        "INSERT INTO postings VALUES "
        "(1, '2026-11-02 10:00+00', 'rag', '45'), "
        "(NULL, '2026-11-02 10:00+00', 'rag', '45'), "
        "(3, NULL, 'rag', '45'), "
        "(4, '2026-11-02 10:00+00', 'rag', 'forty'), "
        "(5, '2026-11-02 10:00+00', NULL, '45'), "
        "(6, '2026-11-02 10:00+00', 'rag', '45000')",
    )
    result = ingest([DatabaseSource(uri=database, table="postings")], taxonomy=taxonomy)
    assert (result.rows, result.accepted.height) == (6, 1)
    assert result.reasons() == {
        "missing_posting_id": 1,
        "missing_posted_at": 1,
        "rate_not_a_number": 1,
        "no_skill": 1,
        "rate_out_of_range": 1,
    }
    assert sorted(result.quarantined["row_number"]) == [2, 3, 4, 5, 6]


def test_a_table_of_a_million_rows_is_read_in_batches_and_every_row_accounted(
    database: str, taxonomy: Taxonomy, tmp_path: Path
) -> None:
    execute(
        database,
        "CREATE TABLE postings AS SELECT CASE WHEN n % 8 = 0 THEN NULL ELSE n END AS posting_id, "
        "timestamptz '2026-01-05 09:00+00' + (n % 300) * interval '1 day' AS posted_at, "
        "(ARRAY['rag', 'prompt engineering', 'computer vision'])[1 + n % 3] AS skills, "
        "CASE WHEN n % 10 = 0 THEN NULL ELSE 20 + n % 80 END AS hourly_rate "
        "FROM generate_series(1, 1000000) AS n",
    )
    source = DatabaseSource(uri=database, table="postings")
    assert copy_to_parquet(source, tmp_path / "copy.parquet") == 1_000_000
    assert pq.ParquetFile(tmp_path / "copy.parquet").num_row_groups > 1  # written batch by batch
    result = ingest([source], taxonomy=taxonomy)
    assert result.rows == 1_000_000 == result.accepted.height + result.quarantined.height
    assert result.reasons() == {"missing_posting_id": 125_000}


def test_a_connection_dropped_mid_read_is_one_line_and_leaves_no_file(database: str, tmp_path: Path) -> None:
    execute(database, "CREATE TABLE postings AS SELECT n AS posting_id FROM generate_series(1, 10) AS n")
    slow = DatabaseSource(uri=database, query="SELECT p.* FROM postings p, pg_sleep(30) s")
    failure: list[Exception] = []

    def read() -> None:
        try:
            copy_to_parquet(slow, tmp_path / "copy.parquet")
        except Exception as exc:  # what the reader raised, checked below
            failure.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    name = database.rpartition("/")[2]
    watching = f"SELECT pid FROM pg_stat_activity WHERE datname = '{name}' AND query LIKE '%pg_sleep(30)%'"
    # autocommit: each look at pg_stat_activity sees it anew, not a transaction's snapshot
    with psycopg.connect(database, autocommit=True) as admin, admin.cursor() as cursor:
        for _ in range(100):  # until the read is running
            cursor.execute(watching + " AND pid <> pg_backend_pid()")
            if cursor.fetchall():
                break

            time.sleep(0.1)
        cursor.execute(f"SELECT pg_terminate_backend(pid) FROM ({watching} AND pid <> pg_backend_pid()) AS q")
    reader.join(timeout=30)
    assert not reader.is_alive()
    assert len(failure) == 1 and isinstance(failure[0], DatabaseError)
    assert str(failure[0]).startswith(f"{slow.label}: ") and "\n" not in str(failure[0])
    assert not (tmp_path / "copy.parquet").exists() or pl.read_parquet(tmp_path / "copy.parquet").is_empty()


def test_bad_credentials_are_one_line_and_never_show_the_password(postgres: str, tmp_path: Path) -> None:
    host = postgres.partition("@")[2]
    uri = f"postgresql://nobody:s3cret-pw@{host}/postgres"
    with pytest.raises(IngestError) as raised:
        ingest([DatabaseSource(uri=uri, table="postings")], taxonomy=Taxonomy(()))
    assert "s3cret-pw" not in str(raised.value) and masked(uri) in str(raised.value)

    result = CliRunner().invoke(app, ["validate", uri, "--table", "postings"])
    assert result.exit_code == 2
    assert "s3cret-pw" not in result.output and "nobody:***@" in result.output
    assert "Traceback" not in result.output


def test_a_database_source_needs_a_table_or_a_query() -> None:
    result = CliRunner().invoke(app, ["validate", "postgresql://postgres@127.0.0.1/test"])
    assert result.exit_code == 2 and "needs --table NAME or --query SQL" in result.output
    with pytest.raises(ValueError, match="name a table or a query"):
        DatabaseSource(uri="postgresql://postgres@127.0.0.1/test", table="a", query="SELECT 1")


def test_run_trains_from_a_table_serves_and_never_logs_the_password(
    database: str, postings: pl.DataFrame, tmp_path: Path
) -> None:
    load(database, "postings", postings)
    with_password = database.replace("postgres@", "postgres:s3cret-pw@")  # trust auth ignores it
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    flags = ["run", "--data", with_password, "--table", "postings", "--horizon", "4", "--workers", "1"]
    result = CliRunner().invoke(app, [*flags, "--quiet"], env={"MLFLOW_TRACKING_URI": uri})
    assert result.exit_code == 0, result.output
    assert "s3cret-pw" not in result.output
    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name(EXPERIMENT_NAME).experiment_id])
    assert run.data.params["data"] == f"{masked(with_password)} table postings"
    assert "s3cret-pw" not in str(run.data.params) and run.data.tags["gigcast.promoted"] == "true"

    # and the champion it made serves: loaded from the registry, answering over gRPC
    model = fetch(Alias(tracking_uri=uri, name="gigcast", alias=CHAMPION_ALIAS, cache_dir=tmp_path / "cache"))
    with started(LOOPBACK) as running:
        running.store.swap(model)
        skill = next(iter(model.index.skills))
        answer = running.stub.EstimateRate(pb.EstimateRateRequest(skill=skill), timeout=5)
    assert answer.model.version == "1" and 0 < answer.p10 < answer.p50 < answer.p90


def test_errors_name_the_database_not_its_copy_and_queries_are_told_apart(
    database: str, taxonomy: Taxonomy
) -> None:
    execute(database, "CREATE TABLE postings (id integer, title text)")
    source = DatabaseSource(uri=database, table="postings")
    with pytest.raises(IngestError) as raised:
        ingest([source], taxonomy=taxonomy)
    assert str(raised.value).startswith(f"{source.label}: missing required columns")
    assert "gigcast-rows-" not in str(raised.value)
    first, second = (DatabaseSource(uri=database, query=q) for q in ("SELECT 1", "SELECT 2"))
    assert first.label != second.label


def test_a_full_read_that_fails_leaves_the_store_as_it_was(
    database: str, taxonomy: Taxonomy, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    kept = (
        pl.DataFrame(
            {"posting_id": ["a"], "posted_at": [datetime(2026, 11, 2, tzinfo=UTC)], "skills": [["rag"]]}
        )
        .with_columns(
            hourly_rate=pl.lit(40.0),
            is_hourly=pl.lit(True),
            budget_usd=pl.lit(None, pl.Float64),
            experience_level=pl.lit("expert"),
            country=pl.lit("US"),
            category=pl.lit(None, pl.String),
        )
        .select(KEPT)
    )
    source = DatabaseSource(uri=database, table="missing")
    merge(store, source=source.label, accepted=kept, labels={})
    config = JobConfig(
        sources=[source],
        taxonomy=taxonomy,
        tracking_uri=f"sqlite:///{tmp_path / 'm.db'}",
        store=store,
        full=True,
    )
    with pytest.raises(IngestError, match="does not exist"):
        run_job(config)
    assert stored(store)["posting_id"].to_list() == ["a"]
