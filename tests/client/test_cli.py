"""The gigcast CLI against a real server on a loopback port, through Typer's runner."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import trustme
from typer.testing import CliRunner, Result

from client import cli
from client.cli import app
from service.server import ServeConfig
from service.store import LoadedModel
from tests.conftest import skills_with_postings
from tests.serving import LOOPBACK, Running, free_port, started


@pytest.fixture(scope="module")
def server(model: LoadedModel) -> Iterator[Running]:
    with started(LOOPBACK) as running:
        running.store.swap(model)
        yield running


def gigcast(server: Running, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, ["--target", f"127.0.0.1:{server.port}", *args], env=env)


def first_skill(model: LoadedModel) -> str:
    entry = model.index.skills[skills_with_postings(model.index)[0]]
    return entry.display_name.upper()  # names work in any case


def test_rate_shows_percentiles_trend_basis_and_model(server: Running, model: LoadedModel) -> None:
    result = gigcast(server, "rate", first_skill(model), "--level", "expert", "--country", "Germany")
    assert result.exit_code == 0, result.output
    data_to = f"data to {model.index.manifest.data_as_of}"
    wanted = ("p10", "p90", "median forecast", "next 12 weeks", "basis:", "observations", data_to, "DE")
    shown = " ".join(result.output.split())  # the footer wraps at the terminal's width
    for text in (*wanted, "model gigcast v1"):
        assert text in shown


def test_rate_json_holds_the_estimate_and_its_path(server: Running, model: LoadedModel) -> None:
    result = gigcast(server, "rate", first_skill(model), "--json")
    answer = json.loads(result.output)
    estimate, points = answer["estimate"], answer["forecast"]["points"]
    assert estimate["p10"] <= estimate["p50"] <= estimate["p90"]
    assert len(points) == 12 and points[0]["p50"] == pytest.approx(estimate["p50"])  # the default trend


def test_demand_table_and_json_have_the_weeks_asked(server: Running, model: LoadedModel) -> None:
    table = gigcast(server, "demand", first_skill(model), "--weeks", "4")
    assert table.exit_code == 0 and table.output.count("│ 20") == 4  # four rows of dates
    assert "▓" in table.output
    answer = gigcast(server, "demand", first_skill(model), "--weeks", "4", "--json")
    points = json.loads(answer.output)["points"]
    assert len(points) == 4 and all(p["p10"] <= p["p50"] <= p["p90"] for p in points)


def test_quote_prices_the_hours(server: Running, model: LoadedModel) -> None:
    skills = [entry.skill for entry in model.index.skills.values()][:2]
    args = ["quote", "--skill", skills[0], "--skill", skills[1], "--hours", "40"]
    assert gigcast(server, *args).exit_code == 0
    answer = json.loads(gigcast(server, *args, "--json").output)
    assert 0 < answer["lowUsd"] <= answer["midUsd"] <= answer["highUsd"]
    assert [item["skill"] for item in answer["skills"]] == skills


def test_skills_reads_every_page(
    server: Running, model: LoadedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "PAGE_SIZE", 2)
    answer = json.loads(gigcast(server, "skills", "--json").output)
    assert sorted(s["id"] for s in answer["skills"]) == sorted(model.index.skills)
    entry = next(iter(model.index.skills.values()))
    found = json.loads(gigcast(server, "skills", "--search", entry.display_name, "--json").output)
    assert entry.skill in {s["id"] for s in found["skills"]}


def test_movers_and_info(server: Running) -> None:
    movers = json.loads(gigcast(server, "movers", "--by", "rate", "--weeks", "8", "--json").output)
    assert movers["metric"] == "MOVER_METRIC_RATE"
    rising, falling = movers.get("rising", []), movers.get("falling", [])
    assert rising or falling
    assert all(m["change"] > 0 for m in rising) and all(m["change"] < 0 for m in falling)
    assert [m["change"] for m in rising] == sorted((m["change"] for m in rising), reverse=True)
    assert [m["change"] for m in falling] == sorted(m["change"] for m in falling)
    info = gigcast(server, "info")
    assert info.exit_code == 0 and "gigcast v1" in info.output and "demand_mase" in info.output


@pytest.mark.parametrize(
    ("command", "skill"), [("rate", "python"), ("rate", "web development"), ("demand", "data entry")]
)
def test_skills_newcomers_ask_first_answer_without_postings_of_their_own(
    server: Running, model: LoadedModel, command: str, skill: str
) -> None:
    entry = model.index.find_skill(skill)
    assert entry is not None and entry.skill not in skills_with_postings(model.index)  # the taxonomy names it
    result = gigcast(server, command, skill)
    assert result.exit_code == 0, result.output
    shown = " ".join(result.output.split())
    assert "basis: category (borrowed from " in shown and " · 0 observations · " in shown


def test_unknown_skill_suggests_names_and_exits_4(server: Running, model: LoadedModel) -> None:
    result = gigcast(server, "rate", first_skill(model)[:-2])
    assert result.exit_code == 4
    assert "did you mean" in result.output and "Traceback" not in result.output


def test_bad_argument_is_named_and_exits_2(server: Running, model: LoadedModel) -> None:
    result = gigcast(server, "quote", "--skill", first_skill(model), "--hours", "0")
    assert result.exit_code == 2 and "estimated_hours" in result.output


def test_server_down_is_one_line_and_exit_3() -> None:
    target = f"127.0.0.1:{free_port()}"
    result = CliRunner().invoke(app, ["--target", target, "--timeout", "2", "rate", "rag"])
    assert result.exit_code == 3
    assert f"no answer from the gigcast server at {target}" in result.output
    assert "Traceback" not in result.output


def test_target_comes_from_the_environment() -> None:
    target = f"127.0.0.1:{free_port()}"
    result = CliRunner().invoke(app, ["--timeout", "2", "demand", "rag"], env={"GIGCAST_TARGET": target})
    assert result.exit_code == 3
    assert target in result.output


def test_bad_level_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["rate", "rag", "--level", "guru"])
    assert result.exit_code == 2


def test_tokens_and_tls(model: LoadedModel, tmp_path: Path) -> None:
    authority = trustme.CA()
    issued = authority.issue_cert("localhost")
    cert, key, ca = tmp_path / "server.pem", tmp_path / "server.key", tmp_path / "ca.pem"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    authority.cert_pem.write_to_path(str(ca))
    secured = replace(LOOPBACK, tls_cert=cert, tls_key=key, auth_tokens=frozenset({"s3cret"}))
    with started(secured) as running:
        running.store.swap(model)
        base = ["--target", f"localhost:{running.port}", "--ca-cert", str(ca), "info"]
        refused = CliRunner().invoke(app, base)
        assert refused.exit_code == 5 and "GIGCAST_TOKEN" in refused.output
        assert CliRunner().invoke(app, ["--token", "s3cret", *base]).exit_code == 0
        assert CliRunner().invoke(app, base, env={"GIGCAST_TOKEN": "s3cret"}).exit_code == 0


def test_the_installed_command_prints_and_exits_with_its_codes(server: Running, model: LoadedModel) -> None:
    """The console script calls the app itself, which typer's runner does not."""
    command = [str(Path(sys.executable).parent / "gigcast"), "--target", f"127.0.0.1:{server.port}", "rate"]
    answered = subprocess.run([*command, first_skill(model)], capture_output=True, text=True, timeout=60)
    assert answered.returncode == 0, answered.stderr
    assert "p50" in answered.stdout and "model gigcast v1" in " ".join(answered.stdout.split())
    unknown = subprocess.run([*command, "knitting"], capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 4 and "unknown skill 'knitting'" in unknown.stderr


def test_a_command_does_not_load_pydantic() -> None:
    """Start-up is most of a command's time; typer from 0.29 on parses through pydantic, ~40 ms more."""
    code = (
        "import sys\n"
        "from client.cli import app\n"
        "try:\n"
        f"    app(['--target', '127.0.0.1:{free_port()}', '--timeout', '1', 'rate', 'rag'])\n"
        "except SystemExit as done:\n"
        "    print(done.code, *sys.modules)\n"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    exit_code, *loaded = ran.stdout.split()
    assert exit_code == "3", ran.stderr  # parsed, called, and no server: the whole command ran
    assert "pydantic" not in loaded


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("gigcast ")


def test_defaults_fit_a_model_with_a_shorter_horizon(
    server: Running, model: LoadedModel, short_model: LoadedModel
) -> None:
    server.store.swap(short_model)
    try:
        rate = gigcast(server, "rate", first_skill(model))
        assert rate.exit_code == 0 and "next 4 weeks" in rate.output, rate.output
        for command in (["demand", first_skill(model)], ["market"], ["movers"], ["movers", "--by", "rate"]):
            result = gigcast(server, *command)
            assert result.exit_code == 0, (command, result.output)
        assert gigcast(server, "demand", first_skill(model), "--weeks", "5").exit_code == 2  # asked past it
    finally:
        server.store.swap(model)


def test_market_and_category_demand_add_up_to_their_skills(server: Running, model: LoadedModel) -> None:
    category = next(iter(model.index.skills.values())).category
    whole = gigcast(server, "market", "--weeks", "4", "--json")
    one = gigcast(server, "market", "--category", category, "--weeks", "4", "--json")
    assert whole.exit_code == 0 and one.exit_code == 0, whole.output + one.output
    market, part = json.loads(whole.output), json.loads(one.output)
    assert part["category"] == category and "category" not in market  # the market has no category id
    assert all(p["p50"] <= m["p50"] for p, m in zip(part["points"], market["points"], strict=True))
    table = gigcast(server, "market", "--weeks", "4")
    assert "the whole market" in table.output and table.output.count("│ 20") == 4
    unknown = gigcast(server, "market", "--category", "knitting")
    assert unknown.exit_code != 0 and "unknown category 'knitting'" in unknown.output


def test_bytes_that_are_not_utf8_are_a_bad_parameter(server: Running) -> None:
    for args in (
        ["skills", "--search", "\udcff"],
        ["rate", "caf\udce9"],
        ["quote", "--skill", "\udcff", "--hours", "1"],
    ):
        result = gigcast(server, *args)
        assert result.exit_code == 2 and "is not UTF-8 text" in result.output, result.output
        assert "Traceback" not in result.output


@pytest.mark.parametrize("timeout", ["nan", "inf", "-inf", "0", "-1", "1e300"])
def test_a_timeout_that_is_not_a_usable_number_of_seconds_is_a_bad_parameter(timeout: str) -> None:
    target = f"127.0.0.1:{free_port()}"
    result = CliRunner().invoke(app, ["--target", target, "--timeout", timeout, "info"])
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--timeout'" in result.output and "is it running" not in result.output


@pytest.mark.parametrize(
    ("token", "kind"),
    [
        ("s3cr\net", "a line break"),
        ("s3crét", "not ASCII"),
        ("s3 cret", "a space"),
        ("s3\udcffcret", "not ASCII"),
    ],
)
def test_a_token_http2_cannot_carry_is_a_bad_parameter_that_does_not_show_it(token: str, kind: str) -> None:
    target = f"127.0.0.1:{free_port()}"
    for given, env in ((["--token", token], None), ([], {"GIGCAST_TOKEN": token})):
        result = CliRunner().invoke(app, ["--target", target, *given, "info"], env=env)
        assert result.exit_code == 2, result.output
        assert "--token" in result.output and kind in result.output
        assert "cret" not in result.output and "Traceback" not in result.output


def test_a_bad_token_is_one_line_from_the_installed_command_without_grpc_noise() -> None:
    """gRPC's core writes its complaints to the process's stderr, which typer's runner does not see."""
    command = [str(Path(sys.executable).parent / "gigcast"), "--target", f"127.0.0.1:{free_port()}", "info"]
    ran = subprocess.run(
        command, capture_output=True, text=True, timeout=60, env={**os.environ, "GIGCAST_TOKEN": "s3cr\net"}
    )
    assert ran.returncode == 2 and ran.stdout == ""
    errors = [line for line in ran.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and "a line break" in errors[0], ran.stderr
    assert "metadata" not in ran.stderr.lower() and "cret" not in ran.stderr


def tokened(model: LoadedModel, config: ServeConfig = LOOPBACK) -> contextlib.AbstractContextManager[Running]:
    return _serving(replace(config, auth_tokens=frozenset({"s3cret"})), model)


@contextlib.contextmanager
def _serving(config: ServeConfig, model: LoadedModel) -> Iterator[Running]:
    with started(config) as running:
        running.store.swap(model)
        yield running


def test_a_token_reaches_a_plaintext_server_on_this_machine(model: LoadedModel, tmp_path: Path) -> None:
    with tokened(model) as running:
        for target in (
            f"127.0.0.1:{running.port}",
            f"localhost:{running.port}",
            f"ipv4:127.0.0.1:{running.port}",
        ):
            answered = CliRunner().invoke(app, ["--target", target, "--token", "s3cret", "info"])
            assert answered.exit_code == 0 and "gigcast v1" in answered.output, (target, answered.output)
        # what a file or a shell leaves around a token is not part of it
        env = {"GIGCAST_TOKEN": " s3cret\n"}
        spaced = CliRunner().invoke(app, ["--target", f"localhost:{running.port}", "info"], env=env)
        assert spaced.exit_code == 0, spaced.output
        wrong = CliRunner().invoke(app, ["--target", f"localhost:{running.port}", "--token", "guess", "info"])
        assert wrong.exit_code == 5 and "the token given was refused" in wrong.output
    socket_path = tmp_path / "gigcast.sock"
    with tokened(model, replace(LOOPBACK, host=f"unix:{socket_path}")):
        target = f"unix:{socket_path}:0"  # the server binds HOST:PORT, so its socket's name ends in :0
        answered = CliRunner().invoke(app, ["--target", target, "--token", "s3cret", "info"])
        assert answered.exit_code == 0 and "gigcast v1" in answered.output, answered.output


@pytest.mark.parametrize(
    "target",
    [
        "10.255.255.1:50051",
        "gigcast.example.com:50051",
        "[2001:db8::1]:50051",
        "dns:///gigcast.example.com:50051",
        "ipv4:127.0.0.1:50051,10.255.255.1:50051",
    ],
)
def test_a_token_is_not_sent_in_plaintext_to_another_host(target: str) -> None:
    result = CliRunner().invoke(app, ["--target", target, "--timeout", "1", "--token", "s3cret", "info"])
    assert result.exit_code == 2, result.output
    assert f"plaintext only to this machine, and {target} may not be on it" in result.output
    assert "--tls" in result.output and "s3cret" not in result.output


def elsewhere() -> str:
    """An address of this machine that is not a loopback one, as another host would be reached."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("203.0.113.1", 9))  # a documentation address: no datagram is sent
        except OSError:
            pytest.skip("no network interface but loopback")
        address = str(probe.getsockname()[0])
    if ipaddress.ip_address(address).is_loopback:
        pytest.skip("no network interface but loopback")
    return address


def test_a_token_goes_to_another_host_over_tls_and_never_in_plaintext(
    model: LoadedModel, tmp_path: Path
) -> None:
    address = elsewhere()
    with socket.socket() as listener:  # a plaintext server that would read what comes in
        listener.bind((address, 0))
        listener.listen()
        listener.setblocking(False)
        target = f"{address}:{listener.getsockname()[1]}"
        refused = CliRunner().invoke(app, ["--target", target, "--timeout", "2", "--token", "s3cret", "info"])
        assert refused.exit_code == 2 and "--tls" in refused.output, refused.output
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody connected
    authority = trustme.CA()
    issued = authority.issue_cert(address)
    cert, key, ca = tmp_path / "server.pem", tmp_path / "server.key", tmp_path / "ca.pem"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    authority.cert_pem.write_to_path(str(ca))
    with tokened(model, replace(LOOPBACK, host=address, tls_cert=cert, tls_key=key)) as running:
        base = ["--target", f"{address}:{running.port}", "--ca-cert", str(ca)]
        assert CliRunner().invoke(app, [*base, "--token", "s3cret", "info"]).exit_code == 0


def test_a_ca_cert_without_a_certificate_is_a_bad_parameter(tmp_path: Path) -> None:
    junk = tmp_path / "ca.pem"
    junk.write_text("not a certificate\n")
    target = f"localhost:{free_port()}"
    result = CliRunner().invoke(app, ["--target", target, "--ca-cert", str(junk), "info"])
    assert result.exit_code == 2 and f"{junk} holds no PEM certificate" in result.output, result.output


def error_of(result: Result) -> dict[str, Any]:
    """The JSON error object on stdout, with the human line on stderr beside it."""
    assert result.stderr.strip(), "no message on stderr"
    answer = json.loads(result.stdout)
    assert set(answer) == {"error"}
    return dict(answer["error"])


def test_json_errors_from_the_server_are_objects_on_stdout(server: Running, model: LoadedModel) -> None:
    unknown = gigcast(server, "rate", first_skill(model)[:-2], "--json")
    error = error_of(unknown)
    assert unknown.exit_code == 4 and error["code"] == "NOT_FOUND" and "did you mean" in error["message"]
    (info,) = error["details"]
    assert info["@type"].endswith("google.rpc.ErrorInfo") and info["reason"] == "SKILL_NOT_FOUND"
    first = skills_with_postings(model.index)[0]
    assert first in info["metadata"]["suggestions"].split(",")

    bad = gigcast(server, "quote", "--skill", first, "--hours", "0", "--json")
    error = error_of(bad)
    assert bad.exit_code == 2 and error["code"] == "INVALID_ARGUMENT"
    (request,) = error["details"]
    assert [v["field"] for v in request["fieldViolations"]] == ["estimated_hours"]
    assert "estimated_hours" in bad.stderr


def test_json_errors_when_no_server_answers() -> None:
    down = f"127.0.0.1:{free_port()}"
    unavailable = CliRunner().invoke(app, ["--target", down, "--timeout", "2", "demand", "rag", "--json"])
    error = error_of(unavailable)
    assert unavailable.exit_code == 3 and error["code"] == "UNAVAILABLE" and down in error["message"]
    with socket.socket() as silent:  # takes connections, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        target = f"127.0.0.1:{silent.getsockname()[1]}"
        waited = CliRunner().invoke(app, ["--target", target, "--timeout", "0.5", "info", "--json"])
    error = error_of(waited)
    assert waited.exit_code == 3 and error["code"] == "DEADLINE_EXCEEDED" and target in error["message"]


def test_json_error_of_a_server_that_needs_a_token(model: LoadedModel) -> None:
    with tokened(model) as running:
        result = CliRunner().invoke(app, ["--target", f"127.0.0.1:{running.port}", "skills", "--json"])
    error = error_of(result)
    assert (
        result.exit_code == 5 and error["code"] == "UNAUTHENTICATED" and "GIGCAST_TOKEN" in error["message"]
    )


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["rate", "rag", "--level", "guru", "--json"], "--level"),
        (["--timeout", "nan", "rate", "rag", "--json"], "--timeout"),
        (["--target", "10.255.255.1:1", "--token", "s3cret", "info", "--json"], "--token"),
        (["quote", "--skill", "rag", "--json"], "--hours"),
        (["demand", "rag", "--weeks", "many", "--json"], "--weeks"),
        (["movers", "--sideways", "--json"], None),
    ],
)
def test_json_usage_errors_are_objects_on_stdout(args: list[str], field: str | None) -> None:
    result = CliRunner().invoke(app, ["--target", f"127.0.0.1:{free_port()}", *args])
    error = error_of(result)
    assert result.exit_code == 2 and error["code"] == "INVALID_ARGUMENT"
    assert error["message"] in result.stderr  # the line click shows
    if field is None:
        assert "details" not in error
    else:
        (request,) = error["details"]
        assert [v["field"] for v in request["fieldViolations"]] == [field]


def test_text_from_the_server_is_shown_as_it_is(server: Running) -> None:
    """An error quotes what was asked, which rich would otherwise read as markup."""
    for skill in ("[/x]", "[bold]knitting[/bold]"):
        result = gigcast(server, "rate", skill)
        assert result.exit_code == 4, result.output
        assert f"unknown skill '{skill}'" in result.output
