"""Log lines for people at a terminal, JSON objects (one per line) for log collectors."""

from __future__ import annotations

import logging
import sys
from enum import StrEnum

from pythonjsonlogger.json import JsonFormatter


class LogFormat(StrEnum):
    auto = "auto"  # text on a terminal, JSON elsewhere
    text = "text"
    json = "json"


def configure_logging(log_format: LogFormat = LogFormat.auto) -> None:
    """One JSON object per line for collectors, with the record's extra fields; text for people."""
    handler = logging.StreamHandler()
    if log_format is LogFormat.json or (log_format is LogFormat.auto and not sys.stderr.isatty()):
        handler.setFormatter(
            JsonFormatter(
                "{levelname}{name}{message}",
                style="{",
                rename_fields={"levelname": "level", "name": "logger"},
                timestamp=True,
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
