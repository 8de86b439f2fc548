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
from training.data.database import DatabaseError, DatabaseSource, Window, copy_to_parquet
from training.data.ingest import IngestError, ingest
from training.data.store import read_state, stored, write, writing
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
    with writing(store):
        write(store, before=None, source=source.label, accepted=kept, window=Window(), counts={}, labels={})
    config = JobConfig(
        sources=[source],
        taxonomy=taxonomy,
        tracking_uri=f"sqlite:///{tmp_path / 'm.db'}",
        store=store,
        full=True,
    )
    with pytest.raises(DatabaseError, match="does not exist"):
        run_job(config)
    assert stored(store, read_state(store))["posting_id"].to_list() == ["a"]


#: Passwords libpq reads otherwise than a person does, or that Python's urlsplit cannot read.
AWKWARD = [
    "K7v/xQ4",
    "K7v@xQ4",
    "K7v#xQ4",
    "K7v?xQ4",
    "K7v%zzxQ4",
    "K7v%40xQ4",
    "K7v[xQ4",
    "K7v xQ4",
    "K7vé&xQ4",
]


def shows_password(text: str) -> bool:
    return "K7v" in text or "xQ4" in text


def test_a_real_connection_error_never_shows_the_password(postgres: str, tmp_path: Path) -> None:
    host = postgres.partition("@")[2]
    refused = f"{host.rpartition(':')[0]}:1"  # nothing listens on port 1
    for password in AWKWARD:
        for uri in (
            f"postgresql://postgres:{password}@{host}/no_such_database",
            f"postgresql://postgres:{password}@{refused}/postgres",
            f"postgresql://postgres@{host}/no_such_database?password={password}&sslmode=disable",
        ):
            with pytest.raises(DatabaseError) as raised:
                copy_to_parquet(DatabaseSource(uri=uri, table="postings"), tmp_path / "copy.parquet")
            message = str(raised.value)
            assert message.startswith(f"{masked(uri)} table postings: ") and "\n" not in message
            assert not shows_password(message), message

    result = CliRunner().invoke(
        app, ["validate", f"postgresql://postgres:K7v#xQ4@{host}/nowhere", "--table", "t"]
    )
    assert result.exit_code == 2 and 'database "nowhere" does not exist' in result.output
    assert not shows_password(result.output) and "Traceback" not in result.output


def test_a_password_libpq_reads_is_masked_in_every_output(
    database: str, postings: pl.DataFrame, tmp_path: Path
) -> None:
    load(database, "postings", postings)
    for password in ("K7v#xQ4", "K7v?xQ4", "K7v%2FxQ4"):  # trust auth reads and ignores it
        uri = database.replace("postgres@", f"postgres:{password}@")
        quarantine = tmp_path / "quarantine.csv"
        flags = ["validate", uri, "--table", "postings", "--quarantine", str(quarantine), "--json"]
        result = CliRunner().invoke(app, flags)
        assert result.exit_code == 0, result.output
        assert not shows_password(result.output) and masked(uri) in result.output
        assert pl.read_csv(quarantine).height > 0 and not shows_password(quarantine.read_text())


@pytest.mark.parametrize(
    "uri",
    [
        "postgresql://[::1/platform",
        "postgresql://u:K7vxQ4@[fe80::1%eth0/platform",
        "postgresql://u:K7v@[::1]x/db",
    ],
)
def test_a_malformed_uri_is_one_line_and_exit_2(uri: str) -> None:
    result = CliRunner().invoke(app, ["validate", uri, "--table", "postings"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and "Traceback" not in result.output
    assert "in URI" in result.output and not shows_password(result.output)  # libpq's message, masked


def test_every_column_type_is_read(database: str, taxonomy: Taxonomy, tmp_path: Path) -> None:
    columns = {
        "posting_id": "bigint",
        "posted_at": "timestamptz",
        "skills": "jsonb",
        "hourly_rate": "numeric",
        "budget_usd": "numeric(12, 2)",
        "fee": "money",
        "experience_level": "tier",
        "tags": "text[]",
        "details": "json",
        "duration": "interval",
        "scores": "int[]",
        "place": "point",
        "attachment": "bytea",
        "client": "uuid",
        "address": "inet",
        "slots": "int4range",
        "starts": "time",
        "starts_at": "timetz",
        "code": "char(4)",
        "flags": "bit(3)",
        "words": "tsvector",
        "page": "xml",
    }
    execute(
        database,
        "CREATE TYPE tier AS ENUM ('entry', 'intermediate', 'expert')",
        f"CREATE TABLE jobs ({', '.join(f'{name} {kind}' for name, kind in columns.items())})",
        "INSERT INTO jobs VALUES (1, '2026-11-02 10:00+00', '[\"rag\", \"prompt engineering\"]', 45.5, "
        "1200.25, 12.5, 'expert', '{a,b}', '{\"a\": 1}', '3 days 04:00', '{1,2}', '(1,2)', '\\x0102', "
        "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '10.0.0.1', '[1,5)', '10:00', '10:00+02', 'ab', B'101', "
        "'a b', '<a/>')",
        "INSERT INTO jobs (posting_id, posted_at) VALUES (2, '2026-11-03 10:00+00')",
    )
    source = DatabaseSource(uri=database, table="jobs")
    assert copy_to_parquet(source, tmp_path / "copy.parquet") == 2
    copied = pl.read_parquet(tmp_path / "copy.parquet").sort("posting_id")

    # PostgreSQL's own reading is the reference: numbers as it computes them, the rest as it writes them
    money = ["hourly_rate", "budget_usd", "fee"]
    texts = [name for name in columns if name not in ("posting_id", "posted_at", "tags", *money)]
    with psycopg.connect(database) as connection:
        numbers = "hourly_rate::float8, budget_usd::float8, fee::numeric::float8"
        as_numbers = connection.execute(f"SELECT {numbers} FROM jobs ORDER BY posting_id").fetchall()
        as_text = ", ".join(f"{name}::text" for name in texts)
        as_texts = connection.execute(f"SELECT {as_text} FROM jobs ORDER BY posting_id").fetchall()
    assert copied.columns == list(columns)
    assert copied.select(money).rows() == as_numbers == [(45.5, 1200.25, 12.5), (None, None, None)]
    assert set(copied.select(texts).schema.values()) == {pl.String}
    assert (
        copied.select(texts).rows() == as_texts and as_texts[0][texts.index("duration")] == "3 days 04:00:00"
    )
    assert copied["tags"].to_list() == [["a", "b"], None]

    result = ingest([source], taxonomy=taxonomy)  # skills from a JSON list, a rate from numeric
    accepted = result.accepted.sort("posting_id")
    assert accepted["skills"][0].to_list() == [
        taxonomy.resolve("rag"),
        taxonomy.resolve("prompt engineering"),
    ]
    assert (accepted["hourly_rate"][0], accepted["budget_usd"][0], accepted["experience_level"][0]) == (
        45.5,
        1200.25,
        "expert",
    )
    query = "SELECT posting_id, posted_at, skills, hourly_rate::numeric(10, 3) AS hourly_rate FROM jobs"
    from_query = ingest([DatabaseSource(uri=database, query=query)], taxonomy=taxonomy)
    assert from_query.accepted.sort("posting_id")["hourly_rate"][0] == 45.5


def test_table_names_are_read_as_postgresql_reads_them(database: str, tmp_path: Path) -> None:
    rows = "SELECT n AS posting_id FROM generate_series(1, {}) AS n"
    execute(
        database,
        f"CREATE TABLE Jobs2 AS {rows.format(1)}",  # unquoted: jobs2
        f'CREATE TABLE "Jobs3" AS {rows.format(2)}',
        f'CREATE TABLE "my.jobs" AS {rows.format(3)}',
        "CREATE SCHEMA market",
        f"CREATE TABLE market.jobs AS {rows.format(4)}",
    )
    read = {
        "Jobs2": 1,
        "jobs2": 1,
        '"jobs2"': 1,
        '"Jobs3"': 2,
        '"my.jobs"': 3,
        "market.jobs": 4,
        ' Market . "jobs" ': 4,
    }
    for table, count in read.items():
        assert copy_to_parquet(DatabaseSource(uri=database, table=table), tmp_path / "copy.parquet") == count

    missing = {"Jobs3": '"Jobs3"', "my.jobs": '"my.jobs"', '"JOBS2"': "jobs2"}
    for table, close in missing.items():
        with pytest.raises(DatabaseError) as raised:
            copy_to_parquet(DatabaseSource(uri=database, table=table), tmp_path / "copy.parquet")
        assert "does not exist" in str(raised.value) and f"did you mean {close}" in str(raised.value)

    for table in (
        "jobs2; DROP TABLE jobs2",
        'jobs2"; DROP TABLE jobs2; --',
        '"jobs2""; DROP TABLE jobs2; --"',
        "a.b.c.d",
    ):
        with pytest.raises(DatabaseError) as raised:
            copy_to_parquet(DatabaseSource(uri=database, table=table), tmp_path / "copy.parquet")
        assert "\n" not in str(raised.value)
    assert copy_to_parquet(DatabaseSource(uri=database, table="jobs2"), tmp_path / "copy.parquet") == 1

    result = CliRunner().invoke(app, ["validate", database, "--table", "Jobs3"])
    assert (
        result.exit_code == 2
        and "does not exist" in result.output
        and 'did you mean "Jobs3"' in result.output
    )


def test_a_query_runs_read_only_and_may_end_in_a_comment(database: str, tmp_path: Path) -> None:
    execute(
        database,
        "CREATE SEQUENCE ids",
        "CREATE TABLE postings AS SELECT n AS posting_id FROM generate_series(1, 3) AS n",
    )
    for query in ("SELECT nextval('ids') AS posting_id", "SELECT setval('ids', 100) AS posting_id"):
        with pytest.raises(DatabaseError, match="read-only transaction"):
            copy_to_parquet(DatabaseSource(uri=database, query=query), tmp_path / "copy.parquet")
    with psycopg.connect(database) as connection:
        assert connection.execute("SELECT last_value, is_called FROM ids").fetchone() == (1, False)

    for query in (
        "SELECT * FROM postings -- every row",
        "SELECT * FROM postings; -- every row\n",
        "SELECT * FROM postings /* every row */ ;\n\n",
        "SELECT *, '--' AS dashes, $$; --$$ AS semicolon, E'\\'--' AS quote FROM postings;",
    ):
        source = DatabaseSource(uri=database, query=query)
        assert copy_to_parquet(source, tmp_path / "copy.parquet") == 3, query
    assert pl.read_parquet(tmp_path / "copy.parquet").row(0)[1:] == ("--", "; --", "'--")
