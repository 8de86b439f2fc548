"""One question to the MLflow registry, asked in a process of its own: ``python -m service.registry_child``.

The server runs this for every question it cannot answer without MLflow (``service.registry``),
so that MLflow, with the 130-170 MB it adds to a process, never stays in the serving process.

The question is the one argument: ``version`` (the version ``name@alias`` points at) or
``fetch`` (a version's bundle, downloaded into the cache unless it is there). Its details come
as one JSON object on stdin, not as arguments, so that a registry's password never shows in the
process list:

- ``version``: ``{"tracking_uri", "name", "alias"}`` → ``{"name", "version", "run_id", "tags"}``;
  with ``"cache_dir"`` too, the version's bundle is also fetched into it unless it is there, so
  that a new version costs the server one child, not two (a bundle that cannot be fetched is
  left for ``fetch`` to report);
- ``fetch``: ``{"tracking_uri", "name", "version", "run_id", "cache_dir"}`` → ``{"folder"}``.

The answer is one JSON object on stdout. Exit codes: 0 answered; 3 the registry has no such
model, alias or version (``NOT_FOUND``); 1 the registry did not answer or refused (``FAILED``);
2 a question this module does not know, or details missing (``BAD_QUESTION``). Otherwise the
last line of stderr says why, as it came: the server masks passwords before it logs a line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from gigcast.registry import MISSING, RegisteredVersion, fetch_bundle, version_by_alias

FAILED = 1
BAD_QUESTION = 2
NOT_FOUND = 3
#: Each question, and the details it needs.
QUESTIONS = {
    "version": ("tracking_uri", "name", "alias"),
    "fetch": ("tracking_uri", "name", "version", "run_id", "cache_dir"),
}


def answer(question: str, asked: dict[str, Any]) -> dict[str, Any] | None:
    """The answer to ``question``; None when the registry has no such model or alias."""
    uri = asked["tracking_uri"]
    if question == "fetch":
        version = RegisteredVersion(asked["name"], asked["version"], asked["run_id"])
        folder = fetch_bundle(tracking_uri=uri, version=version, cache_dir=Path(asked["cache_dir"]))
        return {"folder": str(folder)}
    found = version_by_alias(tracking_uri=uri, name=asked["name"], alias=asked["alias"])
    if found is None:
        return None
    if isinstance(asked.get("cache_dir"), str):
        try:
            fetch_bundle(tracking_uri=uri, version=found, cache_dir=Path(asked["cache_dir"]))
        except Exception as exc:  # the server's own fetch of it will say why
            print(f"{found.name} version {found.version} not fetched: {exc}", file=sys.stderr)
    return {"name": found.name, "version": found.version, "run_id": found.run_id, "tags": dict(found.tags)}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in QUESTIONS:
        questions = "|".join(QUESTIONS)
        print(f"usage: python -m service.registry_child {questions} < question.json", file=sys.stderr)
        return BAD_QUESTION
    needs = QUESTIONS[argv[0]]
    try:
        asked = json.load(sys.stdin)
    except ValueError as exc:
        print(f"the question on stdin is not JSON: {exc}", file=sys.stderr)
        return BAD_QUESTION
    if not isinstance(asked, dict) or not all(isinstance(asked.get(key), str) for key in needs):
        print(f"{argv[0]} needs a JSON object of strings {', '.join(needs)} on stdin", file=sys.stderr)
        return BAD_QUESTION
    answers, sys.stdout = sys.stdout, sys.stderr  # whatever MLflow prints must not garble the answer
    try:
        found = answer(argv[0], asked)
    except Exception as exc:  # the registry is a database or a network service: it fails in many ways
        missing = getattr(exc, "error_code", None) in MISSING  # MLflow's word for a version that is gone
        print(" ".join(f"{type(exc).__name__}: {exc}".split()), file=sys.stderr)  # on one line
        return NOT_FOUND if missing else FAILED
    if found is None:
        print(f"the registry has no {asked['name']}@{asked['alias']}", file=sys.stderr)
        return NOT_FOUND
    json.dump(found, answers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
