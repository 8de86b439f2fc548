"""Demand that adds up: skill forecasts reconciled with their categories' and the whole market's.

A platform reads a category's demand beside its skills'; the two must agree. Every node of the
tree (each skill, each category's total, the market's total) has its own base forecast; Nixtla's
hierarchicalforecast makes them coherent by one of ``Method``, and the backtest picks which: each
method reconciles the base forecasts of every fold the totals were tested on, and the one with
the lowest MASE (each level and horizon bucket weighed alike) is used for the forecast served,
when it clearly beats bottom-up.

At a fold that a skill was too young to be tested on, its base forecast is its category's, times
its share of the category's postings before the fold: what a young skill is served too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from gigcast.bundle import Target
from training.forecasting import backtest
from training.forecasting.backtest import BUCKETS
from training.forecasting.race import SeriesFit
from training.forecasting.series import Series, backward

if TYPE_CHECKING:
    from collections.abc import Iterator

    from hierarchicalforecast.methods import HReconciler


class Method(StrEnum):
    """A way to make the tree's forecasts coherent, named as in the scores and metrics."""

    BOTTOM_UP = "bottom_up"  # the skills' forecasts stand; totals are their sums
    TOP_DOWN = "top_down"  # the market's forecast, split by the proportions of the forecasts below
    # MinTrace's closed form, then skills below zero set to zero and the totals summed again: its
    # nonnegative form solves a quadratic programme per week ahead, minutes at a thousand skills,
    # and scored the same on the synthetic market's backtest
    MIN_TRACE_OLS = "min_trace_ols"  # the coherent forecasts nearest to every base forecast
    MIN_TRACE_WLS = "min_trace_wls"  # the same, each node weighed by how many skills it sums

    def reconciler(self) -> HReconciler:
        from hierarchicalforecast.methods import BottomUp, MinTrace, TopDown

        match self:
            case Method.BOTTOM_UP:
                return BottomUp()
            case Method.TOP_DOWN:
                return TopDown(method="forecast_proportions")
            case Method.MIN_TRACE_OLS:
                return MinTrace(method="ols")
            case Method.MIN_TRACE_WLS:
                return MinTrace(method="wls_struct")


#: The skills' own forecasts stand without a fold to judge by, and unless another method's
#: backtest MASE is below ``CLEAR_GAIN`` times theirs: a tie in the backtest is not a reason to move.
DEFAULT_METHOD = Method.BOTTOM_UP
CLEAR_GAIN = 0.97


@dataclass(frozen=True)
class Tree:
    """Which series sum to which: the market's total, its categories' totals, their skills."""

    market: str
    categories: dict[str, list[str]]  # key of a category's total -> keys of its skills

    @property
    def skills(self) -> list[str]:
        return [skill for members in self.categories.values() for skill in members]

    @property
    def nodes(self) -> list[str]:
        return [self.market, *self.categories, *self.skills]

    def summing(self) -> np.ndarray:
        """Which skills each node sums: a row per node (in ``nodes``' order), a column per skill."""
        skills = np.array(self.skills)
        totals = [np.ones(len(skills))] + [np.isin(skills, members) for members in self.categories.values()]
        return np.vstack([*totals, np.eye(len(skills))]).astype(float)

    def level_of(self, key: str) -> str:
        return "market" if key == self.market else "category" if key in self.categories else "skill"


@dataclass(frozen=True)
class Reconciled:
    method: Method
    scores: dict[Method, float]  # backtest MASE of each method; NaN when there was no fold to judge by
    p50: dict[str, np.ndarray]  # every node's coherent weekly forecast, original scale


def reconcile(
    tree: Tree, *, base: dict[str, np.ndarray], series: dict[str, Series], fits: dict[str, SeriesFit]
) -> Reconciled:
    """Coherent forecasts of every node of ``tree`` from their ``base`` forecasts (original scale).

    ``series`` and ``fits`` hold each node's history and race (a young skill has no fit).
    """
    folds = list(_folds(tree, series, fits))
    scores = {method: _score(tree, method, folds) if folds else math.nan for method in Method}
    method = DEFAULT_METHOD
    best = min(Method, key=lambda m: scores[m] if math.isfinite(scores[m]) else math.inf)
    if scores[best] < CLEAR_GAIN * scores[DEFAULT_METHOD]:
        method = best
    return Reconciled(method, scores, coherent(tree, method, base))


@dataclass(frozen=True)
class _Fold:
    weeks: list[date]
    steps: np.ndarray  # weeks ahead of each, from 1
    base: dict[str, np.ndarray]  # node -> forecast of ``weeks``, original scale
    actual: dict[str, np.ndarray]
    scale: dict[str, float]  # node -> MASE scale of its weeks before the fold


def _folds(tree: Tree, series: dict[str, Series], fits: dict[str, SeriesFit]) -> Iterator[_Fold]:
    """Every fold at which the market and all categories were tested, with a base for every node."""
    market = fits[tree.market].backtest if tree.market in fits else None
    for fold in market.folds if market else []:
        tested = {key: _tested_at(fits.get(key), fold.back, fold.weeks) for key in tree.categories}
        categories = {key: forecast for key, forecast in tested.items() if forecast is not None}
        if len(categories) < len(tested):
            continue
        cut = fold.weeks[0] - timedelta(weeks=int(fold.steps[0]) - 1)
        base = {tree.market: backward(fold.predicted, Target.DEMAND)} | categories
        for category, skills in tree.categories.items():
            for skill in skills:
                own = _tested_at(fits.get(skill), fold.back, fold.weeks)
                young = base[category] * _share(series[skill], series[category], cut)
                base[skill] = young if own is None else own
        actual = {key: _values_at(series[key], fold.weeks) for key in tree.nodes}
        scale = {key: _scale_before(series[key], cut) for key in tree.nodes}
        yield _Fold(fold.weeks, fold.steps, base, actual, scale)


def _tested_at(fit: SeriesFit | None, back: int, weeks: list[date]) -> np.ndarray | None:
    """A node's own backtest forecast of ``weeks`` at that fold, when it was tested there."""
    tested = fit.backtest if fit else None
    for fold in tested.folds if tested else []:
        if fold.back == back and fold.weeks == weeks:
            forecast = backward(fold.predicted, Target.DEMAND)
            return forecast if np.isfinite(forecast).all() else None
    return None


def _share(skill: Series, category: Series, cut: date) -> float:
    own = sum(v for w, v in zip(skill.weeks, skill.values, strict=True) if w < cut)
    total = sum(v for w, v in zip(category.weeks, category.values, strict=True) if w < cut)
    return own / total if total > 0 else 0.0


def _values_at(one: Series, weeks: list[date]) -> np.ndarray:
    """The series' values at ``weeks``; zero before its first week (no postings yet)."""
    observed = dict(zip(one.weeks, one.values, strict=True))
    return np.array([observed.get(w, 0.0) for w in weeks])


def _scale_before(one: Series, cut: date) -> float:
    return backtest.mase_scale(np.array([v for w, v in zip(one.weeks, one.values, strict=True) if w < cut]))


def _score(tree: Tree, method: Method, folds: list[_Fold]) -> float:
    """Mean scaled error of ``method`` over the folds, each level and horizon bucket weighed alike."""
    errors: dict[tuple[str, str], list[float]] = {}
    for fold in folds:
        reconciled = coherent(tree, method, fold.base)
        for key in tree.nodes:
            if not fold.scale[key] > 0:
                continue
            gap = np.abs(reconciled[key] - fold.actual[key]) / fold.scale[key]
            for bucket in BUCKETS:
                inside = (fold.steps >= bucket.first) & (fold.steps <= bucket.last)
                if inside.any():
                    errors.setdefault((tree.level_of(key), bucket.name), []).append(float(gap[inside].mean()))
    return float(np.mean([np.mean(values) for values in errors.values()])) if errors else math.nan


def coherent(tree: Tree, method: Method, base: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every node's forecast made coherent by ``method`` from its base forecast (the weeks ahead)."""
    from hierarchicalforecast.core import HierarchicalReconciliation

    nodes, skills = tree.nodes, tree.skills
    weeks = [date(2001, 1, 1) + timedelta(weeks=k) for k in range(len(base[tree.market]))]
    forecasts = pl.DataFrame(
        {
            "unique_id": np.repeat(nodes, len(weeks)),
            "ds": weeks * len(nodes),
            "base": np.concatenate([base[key] for key in nodes]),
        }
    )
    matrix = tree.summing()
    summing = pl.DataFrame(matrix, schema=skills).insert_column(0, pl.Series("unique_id", nodes))
    tags = {
        "market": np.array([tree.market]),
        "market/category": np.array(list(tree.categories)),
        "market/category/skill": np.array(skills),
    }
    out = HierarchicalReconciliation(reconcilers=[method.reconciler()]).reconcile(
        Y_hat_df=forecasts, S_df=summing, tags=tags
    )
    column = out.columns[-1]
    by_node = {
        key: part.sort("ds")[column].to_numpy()
        for (key,), part in out.partition_by("unique_id", as_dict=True).items()
    }
    # the skills' forecasts, never below zero, and the totals summed from them: coherent to the last digit
    bottom = np.vstack([np.maximum(by_node[skill], 0.0) for skill in skills])
    return dict(zip(nodes, matrix @ bottom, strict=True))
