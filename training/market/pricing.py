"""How level and country move rates, how rates spread around the median, and where postings
come from. Thin cells are shrunk toward the pooled value so that a handful of rows cannot
swing an answer.
"""

from __future__ import annotations

import polars as pl

from gigcast.bundle import PremiumKind
from gigcast.taxonomy import EXPERIENCE_LEVELS as LEVELS

SHRINK = 20.0  # pseudo-observations of the pooled value in every cell
MAX_PRIOR = 100.0  # the most pseudo-observations a cell's prior may count for
SPREAD_PRIOR = 10.0  # pseudo-observations of its category's variance in a skill's
#: Log spread when no rate was seen at all: p10 to p90 about half to twice the median.
NO_DATA_SD = 0.55
#: A rate this many robust spreads of its category from its cell's median is left out of cells.
OUTLIER_SPREADS = 5.0
MAD_TO_SD = 1.4826  # a normal distribution's standard deviation per median absolute deviation


def _shrunk(value: pl.Expr, count: pl.Expr, pooled: pl.Expr | float) -> pl.Expr:
    weight = count / (count + SHRINK)
    return weight * value + (1 - weight) * pooled


def residuals(observations: pl.DataFrame, categories: pl.DataFrame) -> pl.DataFrame:
    """Each rate's log distance from where its skill sits that week, outliers left out.

    Where a skill sits is its category's median of the week moved by the skill's own offset,
    which counts for as much as its observations allow (``_prior_weight``): a skill-week of one
    rate is not its own median, which would leave it no distance at all. ``gap`` keeps the
    distance from the category's median. A rate further than ``OUTLIER_SPREADS`` robust spreads
    of its category from its skill's median is an outlier for this skill, left out of premiums
    and spreads (it still counts as a posting).
    """
    measured = observations.join(categories, on="skill").with_columns(
        gap=pl.col("rate").log() - pl.col("rate").log().median().over("category", "week_start")
    )
    distance = pl.col("gap") - pl.col("gap").median().over("skill")
    robust = (pl.col("gap") - pl.col("gap").median()).abs().median().over("category") * MAD_TO_SD
    kept = measured.filter(distance.abs() <= OUTLIER_SPREADS * robust)
    weight = _prior_weight(kept, "skill", "gap")
    return kept.with_columns(
        residual=pl.col("gap")
        - pl.col("gap").mean().over("skill") * pl.len().over("skill") / (pl.len().over("skill") + weight)
    )


def premiums(residuals: pl.DataFrame, region_of: dict[str, str]) -> pl.DataFrame:
    """Log-rate premium per level, then per country on what the level leaves over.

    Country premiums pool toward their region's and regions toward none (the market), each
    with ``SHRINK`` pseudo-observations: a country seen ten times mostly follows its region.
    A country never seen, in a region that was, gets its region's premium with 0 observations.
    """
    level = (
        residuals.drop_nulls("experience_level")
        .group_by(key=pl.col("experience_level").cast(pl.String))
        .agg(value=pl.col("residual").median(), observations=pl.len().cast(pl.Int64))
        .select("key", "observations", log_premium=_shrunk(pl.col("value"), pl.col("observations"), 0.0))
    )
    by_level = pl.col("experience_level").replace_strict(
        dict(level.select("key", "log_premium").iter_rows()), default=0.0, return_dtype=pl.Float64
    )
    rest = residuals.drop_nulls("country").select(
        "country",
        region=pl.col("country").replace_strict(region_of, default=None, return_dtype=pl.String),
        rest=pl.col("residual") - by_level,
    )
    regions = (
        rest.drop_nulls("region")
        .group_by("region")
        .agg(value=pl.col("rest").median(), n=pl.len())
        .select("region", region_premium=_shrunk(pl.col("value"), pl.col("n"), 0.0))
    )
    seen = (
        rest.group_by(key="country")
        .agg(pl.col("region").first(), value=pl.col("rest").median(), observations=pl.len().cast(pl.Int64))
        .join(regions, on="region", how="left")
        .select(
            "key",
            "observations",
            log_premium=_shrunk(
                pl.col("value"), pl.col("observations"), pl.col("region_premium").fill_null(0.0)
            ),
        )
    )
    unseen = (
        pl.DataFrame({"key": list(region_of), "region": list(region_of.values())})
        .filter(~pl.col("key").is_in(seen["key"].implode()))
        .join(regions, on="region")
        .select("key", observations=pl.lit(0, pl.Int64), log_premium="region_premium")
    )
    return pl.concat(
        [
            level.select(pl.lit(str(PremiumKind.LEVEL)).alias("kind"), "key", "log_premium", "observations"),
            pl.concat([seen, unseen]).select(
                pl.lit(str(PremiumKind.COUNTRY)).alias("kind"), "key", "log_premium", "observations"
            ),
        ]
    ).sort("kind", "key")


def rate_cells(
    residuals: pl.DataFrame, premium_table: pl.DataFrame, categories: pl.DataFrame
) -> pl.DataFrame:
    """Per skill and level ("" for any): the log premium over the skill's median and the log spread.

    Empirical Bayes, in the manner of LinkedIn Salary. A level's premium within a skill is the
    market's for that level, moved by the skill's own rates at the level as much as their
    number allows against the spread between such cells. The spread is the skill's variance
    around its cells, pooled with its category's (``SPREAD_PRIOR`` pseudo-observations, the
    category's pooled with the market's), widened by the uncertainty of the skill's median:
    thin skills get wider intervals, not narrower ones.
    """
    level_premium = _log_premiums(premium_table, PremiumKind.LEVEL)
    country_premium = _log_premiums(premium_table, PremiumKind.COUNTRY)
    moved = residuals.with_columns(
        level=pl.col("experience_level").fill_null(""),
        rest=pl.col("residual")
        - pl.col("experience_level").replace_strict(level_premium, default=0.0, return_dtype=pl.Float64)
        - pl.col("country").replace_strict(country_premium, default=0.0, return_dtype=pl.Float64),
    )
    skill_weight = _prior_weight(moved, "skill", "gap")
    leveled = moved.filter(pl.col("level") != "")
    level_weight = _prior_weight(leveled, ["skill", "level"], "rest")
    cells = leveled.group_by("skill", "level").agg(
        own=pl.col("rest").mean() * pl.len() / (pl.len() + level_weight), observations=pl.len().cast(pl.Int64)
    )
    rest = moved.join(cells.select("skill", "level", "own"), on=["skill", "level"], how="left").with_columns(
        rest=pl.col("rest") - pl.col("own").fill_null(0.0)
    )
    pooled = rest["rest"].var() if rest.height > 1 else None
    market_var = pooled if isinstance(pooled, float) and pooled > 0 else NO_DATA_SD**2
    by_category = _pooled_variance(rest, "category", pl.lit(market_var)).rename(
        {"variance": "category_variance"}
    )
    by_skill = _pooled_variance(
        rest.join(by_category, on="category"), "skill", pl.col("category_variance").first()
    ).join(rest.group_by("skill").agg(n=pl.len()), on="skill")
    every = categories.join(pl.DataFrame({"level": ["", *LEVELS]}), how="cross")
    return (
        every.join(by_category, on="category", how="left")
        .join(by_skill, on="skill", how="left")
        .join(cells, on=["skill", "level"], how="left")
        .with_columns(
            variance=pl.coalesce("variance", "category_variance", pl.lit(market_var)),
            n=pl.col("n").fill_null(0),
        )
        .select(
            "skill",
            "level",
            log_premium=pl.col("level").replace_strict(level_premium, default=0.0, return_dtype=pl.Float64)
            + pl.col("own").fill_null(0.0),
            log_sd=(pl.col("variance") * (1 + 1 / (pl.col("n") + skill_weight))).sqrt(),
            observations=pl.when(pl.col("level") == "")
            .then(pl.col("n"))
            .otherwise(pl.col("observations").fill_null(0))
            .cast(pl.Int64),
        )
        .sort("skill", "level")
    )


def _log_premiums(premium_table: pl.DataFrame, kind: PremiumKind) -> dict[str, float]:
    """Each level's or country's log premium, by key."""
    return dict(premium_table.filter(pl.col("kind") == kind).select("key", "log_premium").iter_rows())


def _prior_weight(frame: pl.DataFrame, by: str | list[str], value: str) -> float:
    """Pseudo-observations of the level above in a cell: within-cell variance over between-cell.

    The method of moments: the variance of cell means, less what sampling adds to it, is the
    true spread between cells; the noisier rates are within cells against it, the more a cell
    needs before it speaks for itself.
    """
    cells = frame.group_by(by).agg(mean=pl.col(value).mean(), var=pl.col(value).var(), n=pl.len())
    within = cells.filter(pl.col("n") > 1)["var"].mean()
    if cells.height < 2 or not isinstance(within, float) or within <= 0:
        return SHRINK
    means_variance, mean_inverse_n = cells.select(pl.col("mean").var(), (1 / pl.col("n")).mean()).row(0)
    between = (means_variance or 0.0) - within * (mean_inverse_n or 0.0)
    return min(within / max(between, within / MAX_PRIOR), MAX_PRIOR)


def _pooled_variance(frame: pl.DataFrame, by: str, prior: pl.Expr) -> pl.DataFrame:
    """Each group's variance of ``rest``, pooled with ``prior`` as ``SPREAD_PRIOR`` observations."""
    own = pl.col("rest").var(ddof=1).fill_null(0.0) * (pl.len() - 1)
    return frame.group_by(by).agg(variance=(own + SPREAD_PRIOR * prior) / (pl.len() - 1 + SPREAD_PRIOR))


def country_share(postings_by_skill_country: pl.DataFrame) -> pl.DataFrame:
    """Share of each skill's postings per country, shrunk to the market-wide share."""
    counts = postings_by_skill_country.drop_nulls("country")
    total = counts["postings"].sum()
    market = counts.group_by("country").agg(market_share=pl.col("postings").sum() / total)
    per_skill = counts.group_by("skill").agg(skill_total=pl.col("postings").sum())
    return (
        per_skill.join(market, how="cross")
        .join(counts, on=["skill", "country"], how="left")
        .select(
            "skill",
            "country",
            (
                (pl.col("postings").fill_null(0) + SHRINK * pl.col("market_share"))
                / (pl.col("skill_total") + SHRINK)
            ).alias("share"),
        )
        .sort("skill", "country")
    )
