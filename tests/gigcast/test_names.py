from __future__ import annotations

import pytest

from gigcast.names import NameResolver, name_key


@pytest.mark.parametrize(
    "spelling",
    [
        "Front-End Development",
        "front end development",
        "front-end-development",
        "FRONT END  DEVELOPMENT",
        "Front-end developments",
        "Frönt-End Development",
    ],
)
def test_spellings_of_one_name_share_a_key(spelling: str) -> None:
    assert name_key(spelling) == "front end development"


def test_ampersand_reads_as_and_and_symbols_that_name_languages_stay() -> None:
    assert name_key("Email, Phone & Chat Support") == name_key("email phone and chat support")
    assert len({name_key("C"), name_key("C++"), name_key("C#")}) == 3
    assert name_key("Data Analysis") == "data analysis"  # not a plural
    assert name_key("AWS") == "aws"


def test_resolver_finds_ids_names_and_aliases_and_suggests_close_ones() -> None:
    resolver = NameResolver(
        [("front-end-development", ["Front-End Development", "frontend"]), ("python", ["Python", "python3"])]
    )
    assert resolver.resolve("front end development") == "front-end-development"
    assert resolver.resolve("Frontend") == "front-end-development"
    assert resolver.resolve("PYTHON3") == "python"
    assert resolver.resolve("cobol") is None
    assert resolver.suggest("front end develop") == ["front-end-development"]


def test_first_skill_keeps_a_contested_name() -> None:
    resolver = NameResolver([("llm", ["Large Language Models"]), ("generative-ai", ["llm"])])
    assert resolver.resolve("LLM") == "llm"


def test_a_name_as_listed_resolves_as_its_key_does() -> None:
    resolver = NameResolver([("llm", ["Large Language Models"]), ("generative-ai", ["LLM", "GenAI"])])
    assert resolver.resolve("LLM") == resolver.resolve("llm ") == "llm"  # listed by another, claimed first
    assert resolver.resolve("GenAI") == resolver.resolve("genai") == "generative-ai"
    assert resolver.resolve("") is None and resolver.resolve("   ") is None
