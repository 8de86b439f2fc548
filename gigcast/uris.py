"""URIs as people may see them: a database's or a registry's, with any password masked.

A password is found as libpq reads the text, a URI (``postgresql://user:password@host/db?...``)
or a connection string (``host=db password='s3 cret'``), and as the person who typed it may have
meant it: libpq reads ``postgresql://u:pa/ss@db`` as host ``u`` on port ``pa``, and
``postgresql://u:p@ss@db`` as password ``p`` on host ``ss@db``, but ``pa/ss`` and ``p@ss`` are
masked whole all the same. Standard library only: the service imports it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from urllib.parse import quote, unquote

__all__ = ["KEYWORDS", "SECRETS", "masked", "scrubbed"]

MASK = "***"
#: Pieces of a password shorter than this are masked in a message only where they stand alone.
SHORT = 4
#: libpq's connection keywords (PostgreSQL 18), and ``ssl``, which a URI may give for sslmode.
KEYWORDS = frozenset(
    {
        "service",
        "user",
        "password",
        "passfile",
        "channel_binding",
        "connect_timeout",
        "dbname",
        "host",
        "hostaddr",
        "port",
        "client_encoding",
        "options",
        "application_name",
        "fallback_application_name",
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "tcp_user_timeout",
        "sslmode",
        "sslnegotiation",
        "sslcompression",
        "sslcert",
        "sslkey",
        "sslcertmode",
        "sslpassword",
        "sslrootcert",
        "sslcrl",
        "sslcrldir",
        "sslsni",
        "requirepeer",
        "require_auth",
        "min_protocol_version",
        "max_protocol_version",
        "ssl_min_protocol_version",
        "ssl_max_protocol_version",
        "gssencmode",
        "krbsrvname",
        "gsslib",
        "gssdelegation",
        "replication",
        "target_session_attrs",
        "load_balance_hosts",
        "scram_client_key",
        "scram_server_key",
        "oauth_issuer",
        "oauth_client_id",
        "oauth_client_secret",
        "oauth_scope",
        "sslkeylogfile",
        "requiressl",
        "ssl",
    }
)
#: The keywords whose values are secrets (compared in lower case).
SECRETS = frozenset(
    {"password", "sslpassword", "scram_client_key", "scram_server_key", "oauth_client_secret"}
)

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_SPACE = " \t\n\r\f\v"  # what libpq's isspace() is, in the C locale
_KEYWORD = "|".join(sorted(KEYWORDS, key=len, reverse=True))
#: Where a URI's parameter or a connection string's keyword that libpq knows begins.
_NEXT_PARAMETER = re.compile(rf"&(?:{_KEYWORD})=")
_NEXT_KEYWORD = re.compile(rf"[{_SPACE}]+(?:{_KEYWORD})[{_SPACE}]*=")

#: Where the user part of a URI ends for libpq: its first ``@``, unless a ``/`` comes first.
_USER_END = re.compile("[@/]")

Span = tuple[int, int]


class Kind(Enum):
    """What a piece of the text is to libpq."""

    USER = "user"
    PASSWORD = "password"
    HOST = "host"
    PORT = "port"
    DBNAME = "dbname"
    KEY = "key"  # a parameter's or a connection string's keyword
    VALUE = "value"  # its value


@dataclass(frozen=True)
class Part:
    """A piece of the text as libpq reads it: what it is, its keyword, where it lies."""

    kind: Kind
    keyword: str
    start: int
    end: int

    def overlaps(self, span: Span) -> bool:
        return self.start < span[1] and span[0] < self.end


def masked(uri: str) -> str:
    """``uri`` with each password shown as ``***``: in the user part, as a ``password=``
    parameter or in a ``key=value`` connection string. Never raises, whatever the text."""
    shown, last = [], 0
    for start, end in _merged(_read(uri)[0]):
        shown += [uri[last:start], MASK]
        last = end
    return "".join(shown) + uri[last:]


def scrubbed(text: str, uri: str) -> str:
    """``text`` (a driver's message, say) with ``uri`` masked wherever it appears, and each of
    its passwords wherever it appears alone: as typed, percent-decoded or percent-encoded, and
    whatever piece of it libpq read as another part (``pa`` as the port of ``u:pa/ss@db``)."""
    pieces = text.split(uri) if uri else [text]
    for spelling in sorted(_spellings(uri), key=len, reverse=True):
        pattern = re.escape(spelling)
        if len(spelling) < SHORT:  # only where it stands alone: the "p" of "p@ss", not of "libpq"
            pattern = rf"(?<![^\W_]){pattern}(?![^\W_])"
        pieces = [re.sub(pattern, MASK, piece) for piece in pieces]
    return masked(uri).join(pieces)


def _read(text: str) -> tuple[list[Span], list[Part]]:
    """Where the passwords of ``text`` lie, as libpq or a person reads it, and libpq's parts of it."""
    scheme = _SCHEME.match(text)
    if scheme:
        return _uri_secrets(text, scheme.end()), _uri_parts(text, scheme.end())
    if "=" in text:
        parts = _conninfo_parts(text)
        return _conninfo_secrets(text, parts), parts
    return [], []


def _spellings(text: str) -> set[str]:
    """Every way the passwords of ``text`` may be written in a message about it."""
    secrets, parts = _read(text)
    raws = [text[start:end] for start, end in secrets]
    raws += [text[part.start : part.end] for part in parts if any(map(part.overlaps, secrets))]
    forms = {form for raw in raws for form in (raw, _unescaped(raw), unquote(raw))}
    found = forms | {quote(form, safe=safe) for form in forms for safe in ("", "/")}
    for part in parts:  # a connection string's dbname may be a URI of its own
        if part.kind is Kind.VALUE and part.keyword == "dbname":
            found |= _spellings(_unescaped(text[part.start : part.end]))
    return found - {""}


# A URI, as libpq's conninfo_uri_parse_options reads it.


def _uri_parts(text: str, start: int) -> list[Part]:
    """The parts libpq reads in a URI whose user part begins at ``start``, up to any it cannot read."""
    parts: list[Part] = []
    at = _first_at(text, start)
    if at is not None:
        colon = text.find(":", start, at)
        if colon == -1:
            parts.append(Part(Kind.USER, "user", start, at))
        else:
            parts += [Part(Kind.USER, "user", start, colon), Part(Kind.PASSWORD, "password", colon + 1, at)]
        start = at + 1
    i, n = start, len(text)
    while True:  # host[:port], separated by commas
        if text.startswith("[", i):
            close = text.find("]", i)
            if close == -1 or (close + 1 < n and text[close + 1] not in ":/?,"):
                parts.append(Part(Kind.HOST, "host", i + 1, n))
                return parts
            parts.append(Part(Kind.HOST, "host", i + 1, close))
            i = close + 1
        else:
            i = _until(text, i, ":/?,", parts, Kind.HOST)
        if text.startswith(":", i):
            i = _until(text, i + 1, "/?,", parts, Kind.PORT)
        if not text.startswith(",", i):
            break
        i += 1
    if text.startswith("/", i):
        i = _until(text, i + 1, "?", parts, Kind.DBNAME)
    if text.startswith("?", i):
        parts += _parameters(text, i + 1)
    return parts


def _until(text: str, start: int, stops: str, parts: list[Part], kind: Kind) -> int:
    """Add the part from ``start`` to the first of ``stops`` (or the end); where it ends."""
    end = start
    while end < len(text) and text[end] not in stops:
        end += 1
    parts.append(Part(kind, kind.value, start, end))
    return end


def _parameters(text: str, start: int) -> list[Part]:
    """The ``key=value`` parameters from ``start``, separated by ``&``."""
    parts: list[Part] = []
    for piece in text[start:].split("&"):
        key, equals, _ = piece.partition("=")
        parts.append(Part(Kind.KEY, unquote(key), start, start + len(key)))
        if equals:
            parts.append(Part(Kind.VALUE, unquote(key), start + len(key) + 1, start + len(piece)))
        start += len(piece) + 1
    return parts


def _first_at(text: str, start: int) -> int | None:
    """The ``@`` that ends the user part as libpq reads it: the first, unless a ``/`` comes before."""
    found = _USER_END.search(text, start)
    return found.start() if found and found[0] == "@" else None


def _uri_secrets(text: str, start: int) -> list[Span]:
    """The passwords' spans in a URI, in the user part as libpq reads it and as a person would
    (up to the last ``@``, unless that lies in parameters libpq reads cleanly), and each secret
    parameter's value up to the next ``&keyword=``."""
    ats = [at] if (at := _first_at(text, start)) is not None else []
    last = text.rfind("@", start)
    if last != -1 and last not in ats and not _in_clean_parameters(text, _uri_parts(text, start), last):
        ats.append(last)
    spans: list[Span] = []
    for at in ats or [start]:
        colon = text.find(":", start, at)
        if colon != -1:
            spans.append((colon + 1, at))
        query = text.find("?", at)
        if query != -1:
            spans += _secret_parameters(text, query + 1)
    return spans


def _in_clean_parameters(text: str, parts: list[Part], position: int) -> bool:
    """Whether ``position`` lies in the parameters, and libpq reads each of them as one it knows."""
    keys = [part for part in parts if part.kind is Kind.KEY]
    values = [part for part in parts if part.kind is Kind.VALUE]
    clean = bool(keys) and len(keys) == len(values)
    clean = clean and all(v.keyword in KEYWORDS and "=" not in text[v.start : v.end] for v in values)
    return clean and position > keys[0].start


def _secret_parameters(text: str, start: int) -> list[Span]:
    """The values of the secret parameters from ``start`` on, each up to the next ``&keyword=``."""
    spans: list[Span] = []
    for piece in re.finditer(r"(?:^|&)([^&=]*)=", text[start:]):
        if unquote(piece[1]).lower() in SECRETS:
            value = start + piece.end()
            following = _NEXT_PARAMETER.search(text, value)
            spans.append((value, following.start() if following else len(text)))
    return spans


# A connection string, as libpq's conninfo_parse reads it.


def _conninfo_parts(text: str) -> list[Part]:
    """The keywords and values libpq reads in ``key=value`` pairs, up to one it cannot read."""
    parts: list[Part] = []
    i, n = 0, len(text)
    while True:
        i = _after_space(text, i)
        if i >= n:
            return parts
        key = i
        while i < n and text[i] != "=" and text[i] not in _SPACE:
            i += 1
        keyword = text[key:i]
        parts.append(Part(Kind.KEY, keyword, key, i))
        i = _after_space(text, i)
        if not text.startswith("=", i):
            return parts  # libpq: missing "=" after the keyword
        i = _after_space(text, i + 1)
        quoted = text.startswith("'", i)
        value = i = i + quoted
        while i < n and (text[i] != "'" if quoted else text[i] not in _SPACE):
            i += 2 if text[i] == "\\" else 1
        parts.append(Part(Kind.VALUE, keyword, value, min(i, n)))
        i += 1


def _after_space(text: str, i: int) -> int:
    while i < len(text) and text[i] in _SPACE:
        i += 1
    return i


def _conninfo_secrets(text: str, parts: list[Part]) -> list[Span]:
    """The secret values' spans as libpq reads them and, unless in quotes that close before the
    next ``keyword=``, as a person would: up to it (``password=s3 cret port=5432``), quotes
    included. A dbname that holds a password of its own is a secret whole."""
    spans: list[Span] = []
    for part in parts:
        if part.kind is not Kind.VALUE:
            continue
        if part.keyword.lower() in SECRETS:
            spans.append((part.start, part.end))
            following = _NEXT_KEYWORD.search(text, part.start)
            end = following.start() if following else len(text)
            quoted = text[part.start - 1 : part.start] == "'"
            if not quoted or part.end == len(text) or text[part.end + 1 : end].strip(_SPACE):
                spans.append((part.start - quoted, end))
        elif part.keyword == "dbname" and _read(_unescaped(text[part.start : part.end]))[0]:
            spans.append((part.start, part.end))
    return spans


def _unescaped(value: str) -> str:
    """A connection string's value without its backslash escapes."""
    return re.sub(r"\\(.)", r"\1", value, flags=re.DOTALL)


def _merged(spans: list[Span]) -> list[Span]:
    """Non-empty ``spans`` in order, overlapping ones joined."""
    merged: list[Span] = []
    for start, end in sorted(span for span in spans if span[0] < span[1]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
