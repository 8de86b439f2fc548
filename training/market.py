"""How level and country move rates, how rates spread around the median, and where postings
come from. Thin cells are shrunk toward the pooled value so that a handful of rows cannot
swing an answer.
"""

from __future__ import annotations

import polars as pl

SHRINK = 20.0  # pseudo-observations of the pooled value in every cell
QUANTILES = {"q10": 0.10, "q25": 0.25, "q75": 0.75, "q90": 0.90}
#: Log spread used when no rate was seen at all: about half to twice the median.
NO_DATA_SPREAD = {"q10": -0.7, "q25": -0.35, "q75": 0.35, "q90": 0.7}


def _shrunk(value: pl.Expr, count: pl.Expr, pooled: pl.Expr | float) -> pl.Expr:
    weight = count / (count + SHRINK)
    return weight * value + (1 - weight) * pooled


def with_residuals(observations: pl.DataFrame, panel: pl.DataFrame) -> pl.DataFrame:
    """Each observation's log distance from its skill's median of that week."""
    medians = panel.select("skill", "week_start", pl.col("rate").alias("week_median"))
    return observations.join(medians, on=["skill", "week_start"]).with_columns(
        residual=pl.col("rate").log() - pl.col("week_median").log()
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
            level.select(pl.lit("level").alias("factor"), "key", "log_premium", "observations"),
            pl.concat([seen, unseen]).select(
                pl.lit("country").alias("factor"), "key", "log_premium", "observations"
            ),
        ]
    ).sort("factor", "key")


def spread(residuals: pl.DataFrame, premium_table: pl.DataFrame, skills: list[str]) -> pl.DataFrame:
    """Quantiles of what premiums leave unexplained, per skill, shrunk to the pooled quantiles."""
    lookup = {(f, k): v for f, k, v, _ in premium_table.iter_rows()}
    level = {k: v for (f, k), v in lookup.items() if f == "level"}
    country = {k: v for (f, k), v in lookup.items() if f == "country"}
    rest = residuals.with_columns(
        rest=pl.col("residual")
        - pl.col("experience_level").replace_strict(level, default=0.0, return_dtype=pl.Float64)
        - pl.col("country").replace_strict(country, default=0.0, return_dtype=pl.Float64)
    )
    quantile_exprs = [pl.col("rest").quantile(q).alias(name) for name, q in QUANTILES.items()]
    pooled = rest.select(quantile_exprs).row(0, named=True) if rest.height else NO_DATA_SPREAD
    per_skill = rest.group_by("skill").agg(*quantile_exprs, observations=pl.len().cast(pl.Int64))
    return (
        pl.DataFrame({"skill": skills})
        .join(per_skill, on="skill", how="left")
        .with_columns(pl.col("observations").fill_null(0))
        .select(
            "skill",
            *[
                _shrunk(pl.col(n).fill_null(0.0), pl.col("observations"), pooled[n]).alias(n)
                for n in QUANTILES
            ],
            "observations",
        )
    )


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
