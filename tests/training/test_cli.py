from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from tests.conftest import register
from training.cli import app
from training.pipeline import Trained
from training.registry.tracking import promote

runner = CliRunner()


def export(tmp_path: Path, bad: int = 1, good: int = 4) -> Path:
    rows = [
        {"uid": str(i), "published_on": "2026-11-02", "tier": "Expert", "attrs": "rag"} for i in range(good)
    ]
    rows += [{"uid": f"b{i}", "published_on": "someday", "tier": "", "attrs": "rag"} for i in range(bad)]
    path = tmp_path / "export.csv"
    pl.DataFrame(rows).write_csv(path)
    return path


def test_validate_json_reconciles_and_exits_0_with_quarantined_rows(tmp_path: Path) -> None:
    quarantine = tmp_path / "out" / "q.parquet"
    result = runner.invoke(
        app, ["validate", str(export(tmp_path)), "--json", "--quarantine", str(quarantine)]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["rows"], summary["accepted"], summary["quarantined"]) == (5, 4, 1)
    assert summary["reasons"] == {"unparseable_posted_at": 1}
    assert summary["skills"] == 1
    assert pl.read_parquet(quarantine)["uid"].to_list() == ["b0"]


def test_validate_prints_a_readable_summary(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(export(tmp_path))])
    assert result.exit_code == 0
    assert "unparseable_posted_at" in result.output and "accepted" in result.output


def test_unreadable_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["validate", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2
    assert "no such file or directory" in missing.output and "Traceback" not in missing.output
    path = tmp_path / "bare.csv"
    pl.DataFrame({"a": [1]}).write_csv(path)
    columns = runner.invoke(app, ["validate", str(path)])
    assert columns.exit_code == 2
    assert "missing required columns: posting_id, posted_at, skills or title" in columns.output
    mapped = runner.invoke(app, ["validate", str(path), "--column", "posted_at=zzz"])
    assert mapped.exit_code == 2 and "no column 'zzz'" in mapped.output


def test_column_flags_and_mapping_file(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    pl.DataFrame({"ref": ["1"], "when": ["2026-11-02"], "what": ["SQL"]}).write_csv(path)
    profile = tmp_path / "odd.toml"
    profile.write_text('[columns]\nposting_id = "ref"\nposted_at = "when"\n')
    result = runner.invoke(
        app, ["validate", str(path), "--mapping", str(profile), "--column", "skills=what", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accepted"] == 1


def test_run_stops_before_fitting_when_too_much_is_quarantined(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    result = runner.invoke(app, ["run", "--data", str(export(tmp_path, bad=2, good=3)), "--quiet"])
    assert result.exit_code == 1
    assert "40.0% of rows were quarantined, more than --max-rejected 20%" in result.output


def test_synth_refuses_an_unknown_format(tmp_path: Path) -> None:
    result = runner.invoke(app, ["synth", "--out", str(tmp_path / "m.xlsx")])
    assert result.exit_code == 2


def test_run_without_any_hourly_rate_trains_demand_only(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    result = runner.invoke(app, ["run", "--data", str(export(tmp_path, bad=0, good=5)), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "rate_mase" not in result.output and "demand_series" in result.output


def test_asking_for_rates_from_data_without_them_is_one_line(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    data = str(export(tmp_path, bad=0, good=5))
    result = runner.invoke(app, ["run", "--data", data, "--target", "rate", "--quiet"])
    assert result.exit_code == 1
    assert "no hourly rates in the data" in result.output and "Traceback" not in result.output


def test_synth_refuses_a_week_that_is_not_over(tmp_path: Path) -> None:
    from datetime import date

    result = runner.invoke(
        app, ["synth", "--out", str(tmp_path / "m.parquet"), "--end", date.today().isoformat()]
    )
    assert result.exit_code == 2
    assert "is not over yet" in result.output


def test_synth_outage_leaves_days_out_and_training_finds_the_week(tmp_path: Path) -> None:
    from datetime import UTC, date, datetime

    from gigcast.taxonomy import load_taxonomy
    from training.data.ingest import ingest
    from training.data.panels import collection_gaps, complete_window

    out = tmp_path / "m.parquet"
    args = ["synth", "--out", str(out), "--skills", "20", "--weeks", "13", "--end", "2026-02-15"]
    result = runner.invoke(app, [*args, "--messy", "0", "--outage", "2026-01-14:4"])
    assert result.exit_code == 0, result.output
    accepted = ingest([out], taxonomy=load_taxonomy(), now=datetime(2026, 3, 1, tzinfo=UTC)).accepted
    days = set(accepted["posted_at"].dt.date().to_list())
    assert not days & {date(2026, 1, d) for d in (14, 15, 16, 17)} and date(2026, 1, 13) in days
    start, end = complete_window(accepted)
    assert collection_gaps(accepted, start=start, end=end) == [date(2026, 1, 12)]


def test_synth_refuses_an_outage_it_cannot_read(tmp_path: Path) -> None:
    result = runner.invoke(app, ["synth", "--out", str(tmp_path / "m.parquet"), "--outage", "2026-01-14"])
    assert result.exit_code == 2
    assert "is not DATE:DAYS" in result.output


def test_synth_shift_writes_a_market_whose_truth_lists_it(tmp_path: Path) -> None:
    out = tmp_path / "m.parquet"
    args = ["synth", "--out", str(out), "--skills", "6", "--weeks", "30", "--end", "2026-11-15"]
    shift = "2026-08-05:Prompt Engineering,machine-learning:level=0.4,rate=1.5"  # ids, names or aliases
    result = runner.invoke(app, [*args, "--shift", shift, "--shift", "2026-10-05:data-annotation:growth=3"])
    assert result.exit_code == 0, result.output
    facts = json.loads((tmp_path / "m.truth.json").read_text())
    assert facts["shifts"] == [
        {
            "start": "2026-08-03",
            "skills": ["prompt-engineering", "machine-learning"],
            "level": 0.4,
            "growth": 1.0,
            "rate": 1.5,
        },
        {"start": "2026-10-05", "skills": ["data-annotation"], "level": 1.0, "growth": 3.0, "rate": 1.0},
    ]
    plain = tmp_path / "plain.parquet"
    assert runner.invoke(app, [*args[:2], str(plain), *args[3:]]).exit_code == 0
    before = pl.col("posted_at") < "2026-08-03"
    assert pl.read_parquet(out).filter(before).equals(pl.read_parquet(plain).filter(before))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-08-05:rag", "is not DATE:SKILLS:CHANGES"),
        ("2026-08-05:rag:speed=2", "is not DATE:SKILLS:CHANGES"),
        ("2026-08-05:rag:level=2,level=3", "is not DATE:SKILLS:CHANGES"),
        ("someday:rag:level=2", "is not DATE:SKILLS:CHANGES"),
        ("2026-08-05:rag:rate=-1", "rate must be positive and finite"),
        ("2026-08-05:rag:level=2", "no skill 'rag-development' among the market's 6 skills"),
        ("2030-01-07:machine-learning:level=2", "the week of 2030-01-07 is outside the market's"),
    ],
)
def test_synth_refuses_a_shift_it_cannot_read_or_hold(tmp_path: Path, value: str, message: str) -> None:
    args = ["synth", "--out", str(tmp_path / "m.parquet"), "--skills", "6", "--weeks", "30"]
    result = runner.invoke(app, [*args, "--end", "2026-11-15", "--shift", value], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "Traceback" not in result.output and not (tmp_path / "m.parquet").exists()
    assert any("Invalid value for --shift" in line and message in line for line in result.output.splitlines())


@pytest.fixture(scope="module")
def champion_registry(
    trained: Trained, small_market: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, str], Path]:
    """A registry whose champion is the session's trained market, and that market's postings."""
    folder = tmp_path_factory.mktemp("champion")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    promote(tracking_uri=uri, model_name="gigcast", version=register(uri, trained, folder / "v1"))
    postings = folder / "postings.parquet"
    small_market.write_parquet(postings)
    return {"MLFLOW_TRACKING_URI": uri}, postings


def test_monitor_without_a_champion_or_version_is_one_line_and_exit_2(tmp_path: Path) -> None:
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    done = runner.invoke(app, ["monitor", "--data", str(export(tmp_path))], env=env)
    assert done.exit_code == 2 and "gigcast has no @champion" in done.output
    errors = [line for line in done.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in done.output  # besides MLflow's note of a new database


def test_monitor_on_data_without_a_new_week_says_so_and_exits_1(
    champion_registry: tuple[dict[str, str], Path],
) -> None:
    env, postings = champion_registry
    done = runner.invoke(app, ["monitor", "--data", str(postings)], env=env)
    assert done.exit_code == 1 and "nothing to score yet" in done.output, done.output
    unknown = runner.invoke(app, ["monitor", "--data", str(postings), "--version", "7"], env=env)
    assert unknown.exit_code == 2 and "gigcast has no version 7" in unknown.output


def test_run_if_drifted_trains_nothing_for_a_champion_never_monitored(
    champion_registry: tuple[dict[str, str], Path],
) -> None:
    env, postings = champion_registry
    done = runner.invoke(app, ["run", "--if-drifted", "--data", str(postings)], env=env)
    assert done.exit_code == 0 and "has not been monitored yet" in done.output
    both = runner.invoke(app, ["run", "--if-drifted", "--if-no-champion", "--data", str(postings)], env=env)
    assert both.exit_code == 2
    versions = MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"]).search_model_versions("name='gigcast'")
    assert len(versions) == 1


def test_runs_of_a_skill_no_run_has_figures_of_is_one_line_and_exit_2(
    champion_registry: tuple[dict[str, str], Path],
) -> None:
    env, _ = champion_registry
    rocket = runner.invoke(app, ["runs", "--skill", "🚀"], env=env)
    assert rocket.exit_code == 2 and "Traceback" not in rocket.output
    assert [line for line in rocket.output.splitlines() if line.startswith("error:")] == [
        "error: unknown skill '🚀': none of the 1 newest runs of gigcast has figures of it"
    ]
    typo = runner.invoke(app, ["runs", "--skill", "prompt enginering"], env=env)
    assert typo.exit_code == 2
    assert "unknown skill 'prompt-enginering'" in typo.output
    assert "; did you mean prompt-engineering" in typo.output  # the closest first
    known = runner.invoke(app, ["runs", "--skill", "Prompt Engineering", "--json"], env=env)
    assert known.exit_code == 0, known.output
    (row,) = map(json.loads, known.stdout.splitlines())
    assert row["version"] == "1" and row["demand_mase"] is not None


def test_runs_with_a_limit_past_what_mlflow_answers_at_once_lists_every_run(
    champion_registry: tuple[dict[str, str], Path],
) -> None:
    env, _ = champion_registry
    done = runner.invoke(app, ["runs", "--limit", "100000", "--json"], env=env)  # MLflow takes 50,000
    assert done.exit_code == 0, done.output
    assert [json.loads(line)["version"] for line in done.stdout.splitlines()] == ["1"]
