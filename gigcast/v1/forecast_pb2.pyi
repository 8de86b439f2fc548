import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExperienceLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXPERIENCE_LEVEL_UNSPECIFIED: _ClassVar[ExperienceLevel]
    EXPERIENCE_LEVEL_ENTRY: _ClassVar[ExperienceLevel]
    EXPERIENCE_LEVEL_INTERMEDIATE: _ClassVar[ExperienceLevel]
    EXPERIENCE_LEVEL_EXPERT: _ClassVar[ExperienceLevel]

class BasisSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BASIS_SOURCE_UNSPECIFIED: _ClassVar[BasisSource]
    BASIS_SOURCE_SKILL_LEVEL_COUNTRY: _ClassVar[BasisSource]
    BASIS_SOURCE_SKILL_LEVEL: _ClassVar[BasisSource]
    BASIS_SOURCE_SKILL_COUNTRY: _ClassVar[BasisSource]
    BASIS_SOURCE_SKILL: _ClassVar[BasisSource]
    BASIS_SOURCE_CATEGORY: _ClassVar[BasisSource]
    BASIS_SOURCE_SKILL_LEVEL_REGION: _ClassVar[BasisSource]
    BASIS_SOURCE_SKILL_REGION: _ClassVar[BasisSource]

class DemandTrend(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEMAND_TREND_UNSPECIFIED: _ClassVar[DemandTrend]
    DEMAND_TREND_RISING: _ClassVar[DemandTrend]
    DEMAND_TREND_STABLE: _ClassVar[DemandTrend]
    DEMAND_TREND_COOLING: _ClassVar[DemandTrend]

class Target(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TARGET_UNSPECIFIED: _ClassVar[Target]
    TARGET_DEMAND: _ClassVar[Target]
    TARGET_RATE: _ClassVar[Target]

class MoverMetric(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MOVER_METRIC_UNSPECIFIED: _ClassVar[MoverMetric]
    MOVER_METRIC_DEMAND: _ClassVar[MoverMetric]
    MOVER_METRIC_RATE: _ClassVar[MoverMetric]
EXPERIENCE_LEVEL_UNSPECIFIED: ExperienceLevel
EXPERIENCE_LEVEL_ENTRY: ExperienceLevel
EXPERIENCE_LEVEL_INTERMEDIATE: ExperienceLevel
EXPERIENCE_LEVEL_EXPERT: ExperienceLevel
BASIS_SOURCE_UNSPECIFIED: BasisSource
BASIS_SOURCE_SKILL_LEVEL_COUNTRY: BasisSource
BASIS_SOURCE_SKILL_LEVEL: BasisSource
BASIS_SOURCE_SKILL_COUNTRY: BasisSource
BASIS_SOURCE_SKILL: BasisSource
BASIS_SOURCE_CATEGORY: BasisSource
BASIS_SOURCE_SKILL_LEVEL_REGION: BasisSource
BASIS_SOURCE_SKILL_REGION: BasisSource
DEMAND_TREND_UNSPECIFIED: DemandTrend
DEMAND_TREND_RISING: DemandTrend
DEMAND_TREND_STABLE: DemandTrend
DEMAND_TREND_COOLING: DemandTrend
TARGET_UNSPECIFIED: Target
TARGET_DEMAND: Target
TARGET_RATE: Target
MOVER_METRIC_UNSPECIFIED: MoverMetric
MOVER_METRIC_DEMAND: MoverMetric
MOVER_METRIC_RATE: MoverMetric

class ModelRef(_message.Message):
    __slots__ = ("name", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class Interval(_message.Message):
    __slots__ = ("lower", "upper", "coverage")
    LOWER_FIELD_NUMBER: _ClassVar[int]
    UPPER_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_FIELD_NUMBER: _ClassVar[int]
    lower: float
    upper: float
    coverage: float
    def __init__(self, lower: _Optional[float] = ..., upper: _Optional[float] = ..., coverage: _Optional[float] = ...) -> None: ...

class Basis(_message.Message):
    __slots__ = ("source", "weeks_of_history", "observations", "description", "model", "data_as_of")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    WEEKS_OF_HISTORY_FIELD_NUMBER: _ClassVar[int]
    OBSERVATIONS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DATA_AS_OF_FIELD_NUMBER: _ClassVar[int]
    source: BasisSource
    weeks_of_history: int
    observations: int
    description: str
    model: str
    data_as_of: str
    def __init__(self, source: _Optional[_Union[BasisSource, str]] = ..., weeks_of_history: _Optional[int] = ..., observations: _Optional[int] = ..., description: _Optional[str] = ..., model: _Optional[str] = ..., data_as_of: _Optional[str] = ...) -> None: ...

class EstimateRateRequest(_message.Message):
    __slots__ = ("skill", "experience_level", "country", "week")
    SKILL_FIELD_NUMBER: _ClassVar[int]
    EXPERIENCE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    WEEK_FIELD_NUMBER: _ClassVar[int]
    skill: str
    experience_level: ExperienceLevel
    country: str
    week: str
    def __init__(self, skill: _Optional[str] = ..., experience_level: _Optional[_Union[ExperienceLevel, str]] = ..., country: _Optional[str] = ..., week: _Optional[str] = ...) -> None: ...

class EstimateRateResponse(_message.Message):
    __slots__ = ("skill", "week_start", "country", "experience_level", "p10", "p25", "p50", "p75", "p90", "median_interval", "basis", "model")
    SKILL_FIELD_NUMBER: _ClassVar[int]
    WEEK_START_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    EXPERIENCE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    P10_FIELD_NUMBER: _ClassVar[int]
    P25_FIELD_NUMBER: _ClassVar[int]
    P50_FIELD_NUMBER: _ClassVar[int]
    P75_FIELD_NUMBER: _ClassVar[int]
    P90_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    BASIS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    skill: str
    week_start: str
    country: str
    experience_level: ExperienceLevel
    p10: float
    p25: float
    p50: float
    p75: float
    p90: float
    median_interval: Interval
    basis: Basis
    model: ModelRef
    def __init__(self, skill: _Optional[str] = ..., week_start: _Optional[str] = ..., country: _Optional[str] = ..., experience_level: _Optional[_Union[ExperienceLevel, str]] = ..., p10: _Optional[float] = ..., p25: _Optional[float] = ..., p50: _Optional[float] = ..., p75: _Optional[float] = ..., p90: _Optional[float] = ..., median_interval: _Optional[_Union[Interval, _Mapping]] = ..., basis: _Optional[_Union[Basis, _Mapping]] = ..., model: _Optional[_Union[ModelRef, _Mapping]] = ...) -> None: ...

class BatchEstimateRatesRequest(_message.Message):
    __slots__ = ("requests",)
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[EstimateRateRequest]
    def __init__(self, requests: _Optional[_Iterable[_Union[EstimateRateRequest, _Mapping]]] = ...) -> None: ...

class ItemError(_message.Message):
    __slots__ = ("code", "message", "field", "suggestions")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    SUGGESTIONS_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    field: str
    suggestions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ..., field: _Optional[str] = ..., suggestions: _Optional[_Iterable[str]] = ...) -> None: ...

class EstimateRateResult(_message.Message):
    __slots__ = ("estimate", "error")
    ESTIMATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    estimate: EstimateRateResponse
    error: ItemError
    def __init__(self, estimate: _Optional[_Union[EstimateRateResponse, _Mapping]] = ..., error: _Optional[_Union[ItemError, _Mapping]] = ...) -> None: ...

class BatchEstimateRatesResponse(_message.Message):
    __slots__ = ("results", "model")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[EstimateRateResult]
    model: ModelRef
    def __init__(self, results: _Optional[_Iterable[_Union[EstimateRateResult, _Mapping]]] = ..., model: _Optional[_Union[ModelRef, _Mapping]] = ...) -> None: ...

class ForecastDemandRequest(_message.Message):
    __slots__ = ("skill", "horizon_weeks", "country")
    SKILL_FIELD_NUMBER: _ClassVar[int]
    HORIZON_WEEKS_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    skill: str
    horizon_weeks: int
    country: str
    def __init__(self, skill: _Optional[str] = ..., horizon_weeks: _Optional[int] = ..., country: _Optional[str] = ...) -> None: ...

class DemandPoint(_message.Message):
    __slots__ = ("week_start", "p10", "p50", "p90")
    WEEK_START_FIELD_NUMBER: _ClassVar[int]
    P10_FIELD_NUMBER: _ClassVar[int]
    P50_FIELD_NUMBER: _ClassVar[int]
    P90_FIELD_NUMBER: _ClassVar[int]
    week_start: str
    p10: float
    p50: float
    p90: float
    def __init__(self, week_start: _Optional[str] = ..., p10: _Optional[float] = ..., p50: _Optional[float] = ..., p90: _Optional[float] = ...) -> None: ...

class ForecastDemandResponse(_message.Message):
    __slots__ = ("skill", "country", "points", "basis", "model")
    SKILL_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    BASIS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    skill: str
    country: str
    points: _containers.RepeatedCompositeFieldContainer[DemandPoint]
    basis: Basis
    model: ModelRef
    def __init__(self, skill: _Optional[str] = ..., country: _Optional[str] = ..., points: _Optional[_Iterable[_Union[DemandPoint, _Mapping]]] = ..., basis: _Optional[_Union[Basis, _Mapping]] = ..., model: _Optional[_Union[ModelRef, _Mapping]] = ...) -> None: ...

class ForecastCategoryDemandRequest(_message.Message):
    __slots__ = ("category", "horizon_weeks")
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    HORIZON_WEEKS_FIELD_NUMBER: _ClassVar[int]
    category: str
    horizon_weeks: int
    def __init__(self, category: _Optional[str] = ..., horizon_weeks: _Optional[int] = ...) -> None: ...

class ForecastCategoryDemandResponse(_message.Message):
    __slots__ = ("category", "points", "skills", "model")
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    category: str
    points: _containers.RepeatedCompositeFieldContainer[DemandPoint]
    skills: int
    model: ModelRef
    def __init__(self, category: _Optional[str] = ..., points: _Optional[_Iterable[_Union[DemandPoint, _Mapping]]] = ..., skills: _Optional[int] = ..., model: _Optional[_Union[ModelRef, _Mapping]] = ...) -> None: ...

class ForecastRateRequest(_message.Message):
    __slots__ = ("skill", "experience_level", "country", "horizon_weeks")
    SKILL_FIELD_NUMBER: _ClassVar[int]
    EXPERIENCE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    HORIZON_WEEKS_FIELD_NUMBER: _ClassVar[int]
    skill: str
    experience_level: ExperienceLevel
    country: str
    horizon_weeks: int
    def __init__(self, skill: _Optional[str] = ..., experience_level: _Optional[_Union[ExperienceLevel, str]] = ..., country: _Optional[str] = ..., horizon_weeks: _Optional[int] = ...) -> None: ...

class RatePoint(_message.Message):
    __slots__ = ("week_start", "p10", "p25", "p50", "p75", "p90", "median_interval")
    WEEK_START_FIELD_NUMBER: _ClassVar[int]
    P10_FIELD_NUMBER: _ClassVar[int]
    P25_FIELD_NUMBER: _ClassVar[int]
    P50_FIELD_NUMBER: _ClassVar[int]
    P75_FIELD_NUMBER: _ClassVar[int]
    P90_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    week_start: str
    p10: float
    p25: float
    p50: float
    p75: float
    p90: float
    median_interval: Interval
    def __init__(self, week_start: _Optional[str] = ..., p10: _Optional[float] = ..., p25: _Optional[float] = ..., p50: _Optional[float] = ..., p75: _Optional[float] = ..., p90: _Optional[float] = ..., median_interval: _Optional[_Union[Interval, _Mapping]] = ...) -> None: ...

class ForecastRateResponse(_message.Message):
    __slots__ = ("skill", "country", "experience_level", "points", "basis", "model")
    SKILL_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    EXPERIENCE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    BASIS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    skill: str
    country: str
    experience_level: ExperienceLevel
    points: _containers.RepeatedCompositeFieldContainer[RatePoint]
    basis: Basis
    model: ModelRef
    def __init__(self, skill: _Optional[str] = ..., country: _Optional[str] = ..., experience_level: _Optional[_Union[ExperienceLevel, str]] = ..., points: _Optional[_Iterable[_Union[RatePoint, _Mapping]]] = ..., basis: _Optional[_Union[Basis, _Mapping]] = ..., model: _Optional[_Union[ModelRef, _Mapping]] = ...) -> None: ...

class QuoteGigRequest(_message.Message):
    __slots__ = ("skills", "estimated_hours", "experience_level", "country", "week")
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_HOURS_FIELD_NUMBER: _ClassVar[int]
    EXPERIENCE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    WEEK_FIELD_NUMBER: _ClassVar[int]
    skills: _containers.RepeatedScalarFieldContainer[str]
    estimated_hours: float
    experience_level: ExperienceLevel
    country: str
    week: str
    def __init__(self, skills: _Optional[_Iterable[str]] = ..., estimated_hours: _Optional[float] = ..., experience_level: _Optional[_Union[ExperienceLevel, str]] = ..., country: _Optional[str] = ..., week: _Optional[str] = ...) -> None: ...

class SkillQuote(_message.Message):
    __slots__ = ("skill", "hourly_p25", "hourly_p50", "hourly_p75", "demand_trend", "basis")
    SKILL_FIELD_NUMBER: _ClassVar[int]
    HOURLY_P25_FIELD_NUMBER: _ClassVar[int]
    HOURLY_P50_FIELD_NUMBER: _ClassVar[int]
    HOURLY_P75_FIELD_NUMBER: _ClassVar[int]
    DEMAND_TREND_FIELD_NUMBER: _ClassVar[int]
    BASIS_FIELD_NUMBER: _ClassVar[int]
    skill: str
    hourly_p25: float
    hourly_p50: float
    hourly_p75: float
    demand_trend: DemandTrend
    basis: Basis
    def __init__(self, skill: _Optional[str] = ..., hourly_p25: _Optional[float] = ..., hourly_p50: _Optional[float] = ..., hourly_p75: _Optional[float] = ..., demand_trend: _Optional[_Union[DemandTrend, str]] = ..., basis: _Optional[_Union[Basis, _Mapping]] = ...) -> None: ...

class QuoteGigResponse(_message.Message):
    __slots__ = ("low_usd", "mid_usd", "high_usd", "skills", "demand_trend", "explanation", "model")
    LOW_USD_FIELD_NUMBER: _ClassVar[int]
    MID_USD_FIELD_NUMBER: _ClassVar[int]
    HIGH_USD_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    DEMAND_TREND_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    low_usd: float
    mid_usd: float
    high_usd: float
    skills: _containers.RepeatedCompositeFieldContainer[SkillQuote]
    demand_trend: DemandTrend
    explanation: str
    model: ModelRef
    def __init__(self, low_usd: _Optional[float] = ..., mid_usd: _Optional[float] = ..., high_usd: _Optional[float] = ..., skills: _Optional[_Iterable[_Union[SkillQuote, _Mapping]]] = ..., demand_trend: _Optional[_Union[DemandTrend, str]] = ..., explanation: _Optional[str] = ..., model: _Optional[_Union[ModelRef, _Mapping]] = ...) -> None: ...

class ListSkillsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "category", "query")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    category: str
    query: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., category: _Optional[str] = ..., query: _Optional[str] = ...) -> None: ...

class Skill(_message.Message):
    __slots__ = ("id", "display_name", "category", "weeks_of_history", "aliases")
    ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    WEEKS_OF_HISTORY_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    id: str
    display_name: str
    category: str
    weeks_of_history: int
    aliases: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., display_name: _Optional[str] = ..., category: _Optional[str] = ..., weeks_of_history: _Optional[int] = ..., aliases: _Optional[_Iterable[str]] = ...) -> None: ...

class ListSkillsResponse(_message.Message):
    __slots__ = ("skills", "next_page_token", "total_size", "model")
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    skills: _containers.RepeatedCompositeFieldContainer[Skill]
    next_page_token: str
    total_size: int
    model: ModelRef
    def __init__(self, skills: _Optional[_Iterable[_Union[Skill, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ..., model: _Optional[_Union[ModelRef, _Mapping]] = ...) -> None: ...

class ListMoversRequest(_message.Message):
    __slots__ = ("metric", "horizon_weeks", "limit", "category")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    HORIZON_WEEKS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    metric: MoverMetric
    horizon_weeks: int
    limit: int
    category: str
    def __init__(self, metric: _Optional[_Union[MoverMetric, str]] = ..., horizon_weeks: _Optional[int] = ..., limit: _Optional[int] = ..., category: _Optional[str] = ...) -> None: ...

class Mover(_message.Message):
    __slots__ = ("skill", "display_name", "current", "forecast", "change")
    SKILL_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    FORECAST_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    skill: str
    display_name: str
    current: float
    forecast: float
    change: float
    def __init__(self, skill: _Optional[str] = ..., display_name: _Optional[str] = ..., current: _Optional[float] = ..., forecast: _Optional[float] = ..., change: _Optional[float] = ...) -> None: ...

class ListMoversResponse(_message.Message):
    __slots__ = ("metric", "rising", "falling", "model")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    RISING_FIELD_NUMBER: _ClassVar[int]
    FALLING_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    metric: MoverMetric
    rising: _containers.RepeatedCompositeFieldContainer[Mover]
    falling: _containers.RepeatedCompositeFieldContainer[Mover]
    model: ModelRef
    def __init__(self, metric: _Optional[_Union[MoverMetric, str]] = ..., rising: _Optional[_Iterable[_Union[Mover, _Mapping]]] = ..., falling: _Optional[_Iterable[_Union[Mover, _Mapping]]] = ..., model: _Optional[_Union[ModelRef, _Mapping]] = ...) -> None: ...

class GetModelInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetModelInfoResponse(_message.Message):
    __slots__ = ("name", "version", "alias", "run_id", "trained_at", "data_start", "data_end", "skill_count", "metrics", "bundle_schema_version", "targets", "horizon_weeks")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TRAINED_AT_FIELD_NUMBER: _ClassVar[int]
    DATA_START_FIELD_NUMBER: _ClassVar[int]
    DATA_END_FIELD_NUMBER: _ClassVar[int]
    SKILL_COUNT_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    HORIZON_WEEKS_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    alias: str
    run_id: str
    trained_at: _timestamp_pb2.Timestamp
    data_start: str
    data_end: str
    skill_count: int
    metrics: _containers.ScalarMap[str, float]
    bundle_schema_version: int
    targets: _containers.RepeatedScalarFieldContainer[Target]
    horizon_weeks: int
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., alias: _Optional[str] = ..., run_id: _Optional[str] = ..., trained_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., data_start: _Optional[str] = ..., data_end: _Optional[str] = ..., skill_count: _Optional[int] = ..., metrics: _Optional[_Mapping[str, float]] = ..., bundle_schema_version: _Optional[int] = ..., targets: _Optional[_Iterable[_Union[Target, str]]] = ..., horizon_weeks: _Optional[int] = ...) -> None: ...
