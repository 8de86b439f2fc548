from __future__ import annotations

import string
from urllib.parse import quote, unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg import pq
from psycopg.conninfo import conninfo_to_dict

from gigcast.uris import KEYWORDS, masked, scrubbed

#: Each kind of character a password may hold: letters, digits, every ASCII punctuation
#: character, space, non-ASCII, and percent-encoded characters.
CHARACTERS = [
    *"aZ09 éß密🔑",
    *string.punctuation,
    *("%23", "%2F", "%40", "%3F", "%25", "%20", "%26", "%3D", "%C3%A9", "%zz", "%"),
]
#: Two markers no URI below holds but the password: neither may be shown.
HEAD, TAIL = "K7v", "xQ4"


def passwords(character: str) -> list[str]:
    """Passwords holding ``character`` at the start, in the middle, at the end, and twice."""
    return [
        f"{character}{HEAD}{TAIL}",
        f"{HEAD}{character}{TAIL}",
        f"{HEAD}{TAIL}{character}",
        f"{HEAD}{character}{character}{TAIL}",
    ]


def spelled(password: str) -> list[str]:
    """The URIs and connection strings a person might write with ``password``."""
    escaped = password.replace("\\", "\\\\").replace("'", "\\'")
    return [
        f"postgresql://analyst:{password}@db.internal:5432/platform?sslmode=require",
        f"postgres://analyst:{password}@[fe80::1]:5432,db2:5433/platform",
        f"postgresql://analyst@db.internal/platform?password={password}&sslmode=require",
        f"postgresql://analyst@db.internal/platform?sslmode=require&password={password}",
        f"http://analyst:{password}@mlflow.internal:5000",
        f"host=db.internal password='{escaped}' user=analyst",
        f"host=db.internal password={escaped.replace(' ', chr(92) + ' ')} user=analyst",
        f"host=db.internal password={password} user=analyst",  # unescaped: a person's reading
    ]


def shows(text: str) -> bool:
    return HEAD in text or TAIL in text


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
        ("postgresql://u:pa#ss@db/platform", "postgresql://u:***@db/platform"),
        (
            "postgresql://u:pa?ss@db/platform?sslmode=require",
            "postgresql://u:***@db/platform?sslmode=require",
        ),
        ("postgresql://u:pa/ss@db/platform", "postgresql://u:***@db/platform"),
        ("postgresql://u:p@ss@db/platform", "postgresql://u:***@db/platform"),
        (
            "postgresql://u@db/platform?password=a#b&sslmode=require",
            "postgresql://u@db/platform?password=***&sslmode=require",
        ),
        ("postgresql://u@db/platform?pass%77ord=s3cret", "postgresql://u@db/platform?pass%77ord=***"),
        ("postgresql://u@db/platform?sslpassword=s3cret", "postgresql://u@db/platform?sslpassword=***"),
        ("postgresql://u:pw@[::1]:5432/platform", "postgresql://u:***@[::1]:5432/platform"),
        ("postgresql://u:pw@[::1/platform", "postgresql://u:***@[::1/platform"),
        ("postgresql://u:p@[fe80::1%eth0/db", "postgresql://u:***@[fe80::1%eth0/db"),
        ("postgresql://[::1/db", "postgresql://[::1/db"),
        (
            "postgresql://u:pw@db/platform?application_name=a@b",
            "postgresql://u:***@db/platform?application_name=a@b",
        ),
        ("host=db password='a b\\'c' port=5432", "host=db password='***' port=5432"),
        ("host=db password = s3cret port=5432", "host=db password = *** port=5432"),
        ("host=db password=s3 cret port=5432", "host=db password=*** port=5432"),
        ("host=db password='it's' port=5432", "host=db password=*** port=5432"),
        ("host=db password='s3cret", "host=db password=***"),
        ("dbname='postgresql://u:pw@db/x' port=5432", "dbname='***' port=5432"),
        ("host=db port=5432", "host=db port=5432"),
    ],
)
def test_passwords_are_masked_wherever_the_uri_holds_them(uri: str, shown: str) -> None:
    assert masked(uri) == shown


@pytest.mark.parametrize("character", CHARACTERS)
def test_no_character_lets_a_password_be_shown(character: str) -> None:
    for password in passwords(character):
        for uri in spelled(password):
            assert not shows(masked(uri)), (uri, masked(uri))


@pytest.mark.parametrize("character", CHARACTERS)
def test_what_libpq_reads_is_kept_but_the_password(character: str) -> None:
    """libpq (through psycopg) is the reference reading: where it reads the password the URI
    was written with, it reads the masked URI the same but for the password, ``***``."""
    compared = 0
    for password in passwords(character):
        for uri in spelled(password):
            try:
                read = conninfo_to_dict(uri)
            except Exception:  # not a URI libpq reads: covered by the test above
                continue
            if read.get("password") in (password, unquote(password)):
                assert conninfo_to_dict(masked(uri)) == {**read, "password": "***"}, uri
                compared += 1
    assert compared >= 4  # each character has spellings libpq reads as meant


@pytest.mark.parametrize("character", CHARACTERS)
def test_a_message_never_shows_a_password_in_any_spelling(character: str) -> None:
    """A driver's message may quote the URI, the password decoded or encoded, any value libpq
    read from it (the port ``K7v`` of ``analyst:K7v/xQ4@db``), or libpq's own complaint."""
    for password in passwords(character):
        for uri in spelled(password):
            try:
                read = [] if uri.startswith("http") else list(conninfo_to_dict(uri).values())
            except Exception as exc:  # libpq's message, which may quote the URI or a piece of it
                read = [str(exc)]
            spellings = [password, unquote(password), quote(password, safe=""), quote(unquote(password))]
            message = " | ".join(map(str, [uri, *spellings, *read]))
            assert not shows(scrubbed(message, uri)), (uri, scrubbed(message, uri))
    uri = f"postgresql://analyst:{HEAD}/{TAIL}@127.0.0.1:5432/platform"
    message = f'invalid integer value "{HEAD}" for connection option "port"'
    assert scrubbed(message, uri) == 'invalid integer value "***" for connection option "port"'


def test_a_message_without_the_password_is_left_as_it_is() -> None:
    uri = "postgresql://analyst:s3cret@db/platform"
    message = f"{uri}: connection to server at db (10.0.0.5), port 5432 failed: timeout expired"
    assert scrubbed(message, uri) == message.replace("s3cret", "***")
    assert scrubbed("database is down", "postgresql://analyst@db/platform") == "database is down"
    uri = "postgresql://u:p@[fe80::1%eth0/db"  # a piece of a few characters, only where it stands alone
    message = f'IO: [libpq] Failed to connect: no "]" in URI: "{uri}", password "p"'
    assert (
        scrubbed(message, uri)
        == f'IO: [libpq] Failed to connect: no "]" in URI: "{masked(uri)}", password "***"'
    )


def test_libpqs_keywords_are_all_known() -> None:
    """A parameter after a password is told apart from the password by libpq's keywords."""
    assert {option.keyword.decode() for option in pq.Conninfo.get_defaults()} <= KEYWORDS


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_is_masked_without_an_error(text: str) -> None:
    assert isinstance(masked(text), str) and isinstance(scrubbed(text, text), str)


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1))
def test_any_password_is_masked(middle: str) -> None:
    for uri in spelled(f"{HEAD}{middle}{TAIL}"):
        assert not shows(masked(uri)), uri
