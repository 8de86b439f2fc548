"""The files in deploy/ hold up against the code they run.

Every YAML file parses; the crontab and the CronJob run ``gigcast-train monitor`` and then
``gigcast-train run --if-drifted`` on the same postings, with subcommands and flags the real
command-line apps accept; the CronJob has what a weekly job needs; the alert rules watch only
metrics gigcast-serve registers, as docs/operating.md shows them; the image installs every
package the project ships.
"""

from __future__ import annotations

import functools
import importlib.metadata
import re
import shlex
import tomllib
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

import service.metrics

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
OPERATING = ROOT / "docs" / "operating.md"
CRONJOB = DEPLOY / "monitor-cronjob.yaml"
ALERTS = DEPLOY / "alerts.yaml"
WEEKLY = "0 6 * * 1"  # Mondays at 06:00
#: Shell words that end one simple command.
SEPARATORS = {";", "&&", "||", "|", "&", "(", ")"}
#: Labels Prometheus adds to every scraped series.
TARGET_LABELS = {"job", "instance"}
PROMQL_WORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}


# --- reading the files ---------------------------------------------------------------------------


def commands(script: str) -> list[tuple[list[str], str]]:
    """The simple commands of a shell script, each as argv with the operator that follows it."""
    text = script.replace("\\\n", " ").replace("\n", " ; ")
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    found: list[tuple[list[str], str]] = []
    argv: list[str] = []
    tokens = iter(lexer)
    for token in tokens:
        if token in SEPARATORS:
            if argv:
                found.append((argv, token))
            argv = []
        elif token[0] in "<>":  # a redirection: its target is no argument, nor is a descriptor before it
            next(tokens, None)
            if argv and argv[-1].isdigit():
                argv.pop()
        else:
            argv.append(token)
    if argv:
        found.append((argv, ""))
    return found


def gigcast_commands(script: str) -> list[tuple[list[str], str]]:
    return [(argv, after) for argv, after in commands(script) if Path(argv[0]).name in programs()]


def crontab_jobs() -> list[tuple[str, str]]:
    """deploy/crontab's jobs as (schedule, shell command); environment lines and comments left out."""
    jobs = []
    for line in (DEPLOY / "crontab").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#") or re.match(r"^[A-Za-z_]\w*\s*=", line):
            continue
        *schedule, command = line.split(None, 5)
        jobs.append((" ".join(schedule), command))
    return jobs


def crontab_environment() -> dict[str, str]:
    lines = (DEPLOY / "crontab").read_text().splitlines()
    pairs = (re.match(r"^([A-Za-z_]\w*)\s*=\s*(.*)$", line) for line in lines)
    return {found.group(1): found.group(2) for found in pairs if found}


def cronjob() -> dict[str, Any]:
    loaded = yaml.safe_load(CRONJOB.read_text())
    assert isinstance(loaded, dict)
    return loaded


def container() -> dict[str, Any]:
    pod = cronjob()["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (only,) = pod["containers"]
    assert isinstance(only, dict)
    return only


def cronjob_script() -> str:
    shell, flag, script = container()["command"]
    assert (shell, flag) == ("/bin/sh", "-c")
    assert isinstance(script, str)
    return script


def rules(groups: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for group in groups["groups"]:
        yield from group["rules"]


def documented_rules() -> list[dict[str, Any]]:
    """The alert rules docs/operating.md shows, from its YAML blocks that hold rule groups."""
    blocks = re.findall(r"^([ \t]*)```yaml\n(.*?)^\1```", OPERATING.read_text(), flags=re.M | re.S)
    found = []
    for indent, block in blocks:
        loaded = yaml.safe_load("\n".join(line.removeprefix(indent) for line in block.splitlines()))
        if isinstance(loaded, dict) and "groups" in loaded:
            found.extend(rules(loaded))
    return found


# --- what the code defines -----------------------------------------------------------------------


@functools.cache
def programs() -> dict[str, Any]:
    """The installed console scripts of gigcast, as the click commands their typer apps build."""
    scripts = importlib.metadata.entry_points(group="console_scripts")
    return {
        script.name: typer.main.get_command(script.load())
        for script in scripts
        if script.name == "gigcast" or script.name.startswith("gigcast-")
    }


def resolve(argv: list[str]) -> tuple[Any, list[str]]:
    """The click command ``argv`` runs (a subcommand of a group) and the arguments it is given."""
    command, args = programs()[Path(argv[0]).name], argv[1:]
    while hasattr(command, "commands"):  # a group: its subcommand
        assert args, f"{argv}: no subcommand"
        assert args[0] in command.commands, f"{argv}: {args[0]!r} is none of {sorted(command.commands)}"
        command, args = command.commands[args[0]], args[1:]
    return command, args


def check_invocation(argv: list[str]) -> None:
    """Fails unless every flag of ``argv`` is an option of its command and the command parses it."""
    command, args = resolve(argv)
    known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    flags = {arg.split("=", 1)[0] for arg in args if arg.startswith("-")}
    assert flags <= known, f"{argv}: {sorted(flags - known)} are no options of {command.name}"
    command.make_context(command.name, list(args))  # values, arity, choices and required options


def option(argv: list[str], name: str) -> str | None:
    """The value ``argv`` gives option ``name`` (its last), or None."""
    command, args = resolve(argv)
    values = command.make_context(command.name, list(args)).params
    (param,) = (param for param in command.params if name in param.opts)
    value = values[param.name]
    return value[-1] if isinstance(value, list | tuple) and value else value


def exposed_metrics() -> dict[str, tuple[str, ...]]:
    """The sample names service/metrics.py registers, as Prometheus scrapes them, and their labels.

    Read from the registry each metric was registered in, which names every sample it exposes
    (``_total`` of a counter, ``_bucket`` of a histogram); a counter's own name is not scraped.
    """
    defined = [value for value in vars(service.metrics).values() if isinstance(value, MetricWrapperBase)]
    exposed = {}
    for name, collector in REGISTRY._names_to_collectors.items():
        if collector in defined and not (collector._type == "counter" and name == collector._name):
            exposed[name] = tuple(collector._labelnames)
    return exposed


def promql_metrics(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: no functions, keywords, labels or numbers."""
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", bare)
    bare = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", bare)
    names = re.findall(r"(?<![\w.])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()", bare)
    return {name for name in names if name.lower() not in PROMQL_WORDS}


def promql_labels(rule: dict[str, Any]) -> set[str]:
    """Labels a rule names: in its selectors' matchers and groupings, and as $labels.X in its text."""
    expr = rule["expr"]
    labels = set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", " ".join(re.findall(r"\{([^}]*)\}", expr))))
    for grouping in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", expr):
        labels |= {label.strip() for label in grouping.split(",") if label.strip()}
    text = " ".join(str(value) for value in (rule.get("annotations") or {}).values())
    return labels | set(re.findall(r"\$labels\.(\w+)", text))


def cpus(quantity: str | int | float) -> float:
    text = str(quantity)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


# --- tests ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(DEPLOY.glob("*.yaml")) + sorted(DEPLOY.glob("*.yml")), ids=str)
def test_every_yaml_file_parses_to_a_mapping(path: Path) -> None:
    assert isinstance(yaml.safe_load(path.read_text()), dict)


def test_deploy_holds_the_cronjob_and_the_alert_rules() -> None:
    assert {CRONJOB, ALERTS} <= set(DEPLOY.glob("*.yaml"))


def test_the_shell_reader_splits_commands_and_drops_redirections() -> None:
    found = commands("( date; a --x 1 && b --y ) >> log 2>&1\nc -z")
    assert found == [(["date"], ";"), (["a", "--x", "1"], "&&"), (["b", "--y"], ")"), (["c", "-z"], "")]


def test_the_flag_check_refuses_an_unknown_subcommand_flag_or_value() -> None:
    check_invocation(["gigcast-train", "monitor", "--data", "x.parquet", "--max-mase-ratio", "3"])
    for wrong in (
        ["gigcast-train", "watch", "--data", "x.parquet"],
        ["gigcast-train", "monitor", "--data", "x.parquet", "--if-drifted"],
        ["gigcast-train", "monitor", "--data", "x.parquet", "--max-mase-ratio", "0.5"],
        ["gigcast-train", "monitor"],
        ["gigcast-serve", "--metrics", "9464"],
    ):
        with pytest.raises((AssertionError, typer.TyperException)):
            check_invocation(wrong)


def test_the_crontab_runs_weekly_with_the_team_registry_and_installed_commands() -> None:
    (job,) = crontab_jobs()
    schedule, script = job
    assert schedule == WEEKLY
    assert crontab_environment()["MLFLOW_TRACKING_URI"].startswith(("http://", "https://"))
    runs = gigcast_commands(script)
    assert runs
    for argv, _ in runs:  # cron's PATH holds no virtualenv: the installed commands by their path
        assert Path(argv[0]).is_absolute() and Path(argv[0]).parent.name == "bin", argv[0]
    assert re.search(r">>\s*\S+\s+2>&1\s*$", script), "both commands' output goes to one log file"


@pytest.mark.parametrize("source", ["crontab", "cronjob"])
def test_every_gigcast_invocation_uses_commands_and_flags_that_exist(source: str) -> None:
    script = crontab_jobs()[0][1] if source == "crontab" else cronjob_script()
    invocations = gigcast_commands(script)
    assert invocations
    for argv, _ in invocations:
        check_invocation(argv)


@pytest.mark.parametrize("source", ["crontab", "cronjob"])
def test_monitor_then_run_if_drifted_on_the_same_postings_chained_past_the_drift_exit(source: str) -> None:
    script = crontab_jobs()[0][1] if source == "crontab" else cronjob_script()
    (monitor, after_monitor), (run, _) = gigcast_commands(script)
    assert resolve(monitor)[0].name == "monitor" and resolve(run)[0].name == "run"
    assert after_monitor == ";", "monitor exits 3 on drift: run --if-drifted must follow whatever it exits"
    assert option(run, "--if-drifted") is True
    for name in ("--data", "--table", "--query", "--model-name"):
        assert option(monitor, name) == option(run, name), name
    assert str(option(run, "--data")).startswith("postgresql://")
    assert option(run, "--table")


def test_the_cronjob_runs_weekly_once_at_a_time_and_is_never_retried() -> None:
    job = cronjob()
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "CronJob")
    spec = job["spec"]
    assert spec["schedule"] == WEEKLY
    assert spec["concurrencyPolicy"] == "Forbid"
    assert isinstance(spec["successfulJobsHistoryLimit"], int)
    assert isinstance(spec["failedJobsHistoryLimit"], int)
    assert spec["jobTemplate"]["spec"]["backoffLimit"] == 0
    assert spec["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_the_cronjob_container_has_the_image_registry_secret_and_two_cpus_it_uses() -> None:
    box = container()
    assert box["image"] == "gigcast:latest"
    env = {item["name"]: item for item in box["env"]}
    assert env["MLFLOW_TRACKING_URI"]["value"].startswith(("http://", "https://"))
    secret = env["PGPASSWORD"]["valueFrom"]["secretKeyRef"]
    assert secret["name"] and secret["key"]
    requested = cpus(box["resources"]["requests"]["cpu"])
    assert requested == 2
    assert "memory" in box["resources"]["requests"]
    (_, _), (run, _) = gigcast_commands(cronjob_script())
    # gigcast fits on one process per CPU the machine has, which in a container is the node's
    workers = option(run, "--workers")
    assert workers is not None and int(workers) == requested


def test_the_alert_rules_watch_only_metrics_the_server_registers() -> None:
    exposed = exposed_metrics()
    assert {"gigcast_monitored_coverage", "gigcast_monitored_drifted", "gigcast_data_age_weeks"} <= set(
        exposed
    )
    for rule in rules(yaml.safe_load(ALERTS.read_text())):
        assert rule["alert"] and re.fullmatch(r"\d+[smhdwy]", rule["for"]), rule
        names = promql_metrics(rule["expr"])
        assert names and names <= set(exposed), f"{rule['alert']}: {sorted(names - set(exposed))}"
        labels = set().union(*(exposed[name] for name in names)) | TARGET_LABELS
        assert promql_labels(rule) <= labels, f"{rule['alert']}: {sorted(promql_labels(rule) - labels)}"


def test_the_metric_reader_finds_names_and_not_functions_labels_or_numbers() -> None:
    expr = 'max by (target) (rate(gigcast_request_seconds_count{code!="OK"}[5m])) > 1e3 and up == 0'
    assert promql_metrics(expr) == {"gigcast_request_seconds_count", "up"}
    rule = {"expr": expr, "annotations": {"summary": "{{ $labels.instance }}"}}
    assert promql_labels(rule) == {"code", "target", "instance"}


def test_the_alerts_cover_coverage_drift_and_stale_data() -> None:
    found = {rule["expr"]: rule for rule in rules(yaml.safe_load(ALERTS.read_text()))}
    assert found["gigcast_monitored_coverage < 0.6"]["for"] == "1h"
    assert "gigcast_monitored_drifted == 1" in found
    assert "gigcast_data_age_weeks > 2" in found


def test_the_alerts_agree_with_the_rules_docs_operating_shows() -> None:
    deployed = {rule["alert"]: rule for rule in rules(yaml.safe_load(ALERTS.read_text()))}
    for shown in documented_rules():
        assert shown["alert"] in deployed, shown["alert"]
        for key in ("expr", "for"):
            assert deployed[shown["alert"]][key] == shown[key], (shown["alert"], key)
        for key, text in (shown.get("annotations") or {}).items():
            assert deployed[shown["alert"]]["annotations"][key] == text, (shown["alert"], key)


def test_the_cron_line_in_docs_operating_is_the_one_in_deploy() -> None:
    (job,) = crontab_jobs()
    line = " ".join(" ".join(job).split())
    shown = [" ".join(text.split()) for text in OPERATING.read_text().splitlines() if text.startswith(WEEKLY)]
    assert shown == [line]


def test_the_image_installs_every_package_the_project_ships() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\s*$", dockerfile, flags=re.M)
    copied = set()
    for sources in re.findall(r"^COPY\s+(.+?)\s+\S+\s*$", dockerfile, flags=re.M):
        copied |= {source.rstrip("/") for source in sources.split()}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {
        path.name
        for path in ROOT.iterdir()
        if (path / "__init__.py").is_file() and any(fnmatch(path.name, pattern) for pattern in patterns)
    }
    assert packages and packages | {"pyproject.toml", project["project"]["readme"]} <= copied
    for source in copied:
        assert (ROOT / source).exists(), source
    assert re.search(r'pip install "?/src(\[[\w,]+\])?"?', dockerfile)
