"""Answers kept by request bytes: given again only by the model that gave them, within a budget."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from service.answers import ENTRY_BYTES, Answers
from service.store import LoadedModel


def test_an_answer_kept_is_given_again(model: LoadedModel) -> None:
    answers = Answers(budget=10_000)
    assert answers.get(model, "EstimateRate", b"q") is None
    answers.keep(model, "EstimateRate", b"q", b"answer")
    assert answers.get(model, "EstimateRate", b"q") == b"answer"
    assert answers.get(model, "ForecastRate", b"q") is None  # the same bytes asked of another rpc


def test_a_new_model_gives_none_of_the_old_answers(model: LoadedModel) -> None:
    answers, newer = Answers(budget=10_000), replace(model, version="2")
    answers.get(model, "EstimateRate", b"q")
    answers.keep(model, "EstimateRate", b"q", b"old")
    assert answers.get(newer, "EstimateRate", b"q") is None
    answers.keep(model, "EstimateRate", b"q", b"old")  # worked out by the old model, landing late
    assert answers.get(newer, "EstimateRate", b"q") is None


def test_the_oldest_answers_go_first_within_the_budget(model: LoadedModel) -> None:
    answers = Answers(budget=3 * (10 + ENTRY_BYTES))  # three answers of 10 bytes with their requests
    answers.get(model, "EstimateRate", b"")  # answers are kept for the model last asked, as the server does
    for i in range(4):
        answers.keep(model, "EstimateRate", b"q%d" % i, b"answer%d" % i)
    kept = [answers.get(model, "EstimateRate", b"q%d" % i) for i in range(4)]
    assert kept == [None, b"answer1", b"answer2", b"answer3"]
    answers.keep(model, "EstimateRate", b"big", b"x" * answers.budget)  # larger than the budget: not kept
    assert answers.get(model, "EstimateRate", b"big") is None
    assert answers.get(model, "EstimateRate", b"q3") == b"answer3"


def test_a_budget_of_zero_keeps_nothing(model: LoadedModel) -> None:
    answers = Answers(budget=0)
    answers.get(model, "EstimateRate", b"q")
    answers.keep(model, "EstimateRate", b"q", b"answer")
    assert answers.get(model, "EstimateRate", b"q") is None


def test_handler_threads_keeping_at_once_keep_the_budget_right(model: LoadedModel) -> None:
    entry = 4 + 6 + ENTRY_BYTES  # b"q%03d" and b"a%05d"
    answers = Answers(budget=50 * entry)
    answers.get(model, "EstimateRate", b"")

    def keep_many(offset: int) -> None:
        for i in range(3000):
            n = (i + offset) % 30  # fewer requests than fit: most are kept already
            answers.keep(model, "EstimateRate", b"q%03d" % n, b"a%05d" % n)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(keep_many, range(4)))  # an error in a thread fails the test here
    assert all(answers.get(model, "EstimateRate", b"q%03d" % n) == b"a%05d" % n for n in range(30))
    # the bytes counted are the bytes kept: 50 new answers all fit
    for n in range(100, 150):
        answers.keep(model, "EstimateRate", b"q%03d" % n, b"a%05d" % n)
    assert all(answers.get(model, "EstimateRate", b"q%03d" % n) is not None for n in range(100, 150))
