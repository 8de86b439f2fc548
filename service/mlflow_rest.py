"""The one question the server asks a team's ``mlflow server`` every poll, over MLflow's REST API.

``GET /api/2.0/mlflow/registered-models/alias`` answers which version an alias points at, with
its tags, in a few milliseconds of the standard library, where a child process that loads
MLflow to ask it costs a second or more of CPU (``service.registry``).

Credentials are MLflow's own, read as its client reads them: ``MLFLOW_TRACKING_USERNAME`` and
``MLFLOW_TRACKING_PASSWORD`` (or ``~/.mlflow/credentials``, or a user and password in the URI)
for basic auth, else ``MLFLOW_TRACKING_TOKEN`` as a bearer token; TLS with
``MLFLOW_TRACKING_INSECURE_TLS``, ``MLFLOW_TRACKING_SERVER_CERT_PATH`` and
``MLFLOW_TRACKING_CLIENT_CERT_PATH``. A registry that needs more of MLflow's client (an auth
plugin, AWS SigV4, a workspace: ``NEEDS_MLFLOW``) is not asked here: ``plain`` says so.
"""

from __future__ import annotations

import base64
import configparser
import json
import os
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from gigcast.registry import MISSING, RegisteredVersion

__all__ = ["NEEDS_MLFLOW", "RestError", "plain", "version_by_alias"]

#: Settings of MLflow's client that only MLflow's client can honour.
NEEDS_MLFLOW = ("MLFLOW_TRACKING_AUTH", "MLFLOW_TRACKING_AWS_SIGV4", "MLFLOW_WORKSPACE")
ALIAS_PATH = "/api/2.0/mlflow/registered-models/alias"
TRUE = ("true", "1")


class RestError(RuntimeError):
    """The registry did not answer, or answered with an error other than "there is no such thing"."""


def plain(tracking_uri: str) -> bool:
    """Whether ``tracking_uri`` is an ``mlflow server`` this module can ask: http(s), no setting it lacks."""
    return urlsplit(tracking_uri).scheme in ("http", "https") and not any(
        os.environ.get(setting) for setting in NEEDS_MLFLOW
    )


def version_by_alias(*, tracking_uri: str, name: str, alias: str, timeout: float) -> RegisteredVersion | None:
    """The version ``name@alias`` points at, with its tags; None when the model or the alias is not there."""
    parts = urlsplit(tracking_uri)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    netloc += f":{parts.port}" if parts.port else ""
    base = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
    url = f"{base}{ALIAS_PATH}?{urlencode({'name': name, 'alias': alias})}"
    request = urllib.request.Request(url, headers=_headers(parts.username, parts.password))
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=_tls(parts.scheme)) as response:
            found = json.load(response)["model_version"]
    except urllib.error.HTTPError as exc:
        error = _error(exc)
        if error.get("error_code") in MISSING:
            return None
        raise RestError(f"HTTP {exc.code}: {error.get('message') or exc.reason}") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:  # refused, timed out, not MLflow's JSON
        raise RestError(f"{type(exc).__name__}: {exc}") from None
    try:
        tags = {str(tag["key"]): str(tag["value"]) for tag in found.get("tags", [])}
        run_id = str(found.get("run_id", ""))
        return RegisteredVersion(str(found["name"]), str(found["version"]), run_id, tags)
    except (KeyError, TypeError, AttributeError) as exc:
        raise RestError(f"the answer is not a model version: it lacks {exc}") from None


def _headers(user: str | None, password: str | None) -> dict[str, str]:
    """The Authorization MLflow's client would send: basic with the URI's user, else with its settings
    or its credentials file, else its token."""
    username = os.environ.get("MLFLOW_TRACKING_USERNAME")
    secret = os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if not (username and secret):
        stored = configparser.ConfigParser()
        stored.read(Path.home() / ".mlflow" / "credentials")
        if stored.has_section("mlflow"):
            username = username or stored["mlflow"].get("mlflow_tracking_username")
            secret = secret or stored["mlflow"].get("mlflow_tracking_password")
    if user and password:  # requests, under MLflow's client, puts the URI's above any other
        username, secret = user, password
    headers = {"Accept": "application/json"}
    if username and secret:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()
    elif token := os.environ.get("MLFLOW_TRACKING_TOKEN"):
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _tls(scheme: str) -> ssl.SSLContext | None:
    if scheme != "https":
        return None
    authority = os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH") or None  # a CA file, or a folder of them
    if authority and Path(authority).is_dir():
        context = ssl.create_default_context(capath=authority)
    else:
        context = ssl.create_default_context(cafile=authority)
    if os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() in TRUE:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if client := os.environ.get("MLFLOW_TRACKING_CLIENT_CERT_PATH"):
        context.load_cert_chain(client)
    return context


def _error(exc: urllib.error.HTTPError) -> dict[str, Any]:
    """MLflow's error body (``error_code``, ``message``), or nothing when it is not one."""
    try:
        body = json.loads(exc.read())
    except (OSError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}
