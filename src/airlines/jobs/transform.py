"""The job's transformations: small pure functions from DataFrame to DataFrame.

They work the same on a streaming DataFrame (the job) and a batch one (the unit
tests); all I/O (Kafka, Redis) is in :mod:`airlines.jobs.streaming` and
:mod:`airlines.jobs.redis_sink`.

Flow::

    kafka_records -> validate_records -+-> valid_events -> enrich -> distinct_on_time_events
                                       |            -> aggregate_windows -> sink_rows
                                       +-> rejected_records -> dead_letter_messages

Validation is explicit because Spark's permissive ``from_json`` never fails: bad JSON,
wrong types and missing fields come back as nulls. Every record ends up either as an
event or as a dead letter with a reason naming each field and problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F  # noqa: N812 (the PySpark convention)

from airlines.config.types import spark_interval
from airlines.contract import CROSS_FIELD_RULES, FlightStatus
from airlines.jobs.schema import (
    CORRUPT_RECORD,
    FORMAT_PATTERNS,
    FieldSpec,
    diagnostic_schema,
    event_fields,
    wire_schema,
)
from airlines.smoke import SMOKE_KEY

#: The Kafka columns validation keeps (renamed so they cannot clash with event fields,
#: e.g. Kafka's own ``timestamp``).
RECORD_COLUMNS = ("key", "value", "topic", "partition", "offset")

#: Dead-letter message headers: where the record came from and why it was rejected.
HEADER_SOURCE_TOPIC = "dlq.source.topic"
HEADER_SOURCE_PARTITION = "dlq.source.partition"
HEADER_SOURCE_OFFSET = "dlq.source.offset"
HEADER_REASON = "dlq.reason"
#: Set (to the original value's size in bytes) when the value was cut to fit.
HEADER_TRUNCATED = "dlq.truncated"

#: Largest value and key a dead letter carries whole. With the headers, a dead letter
#: stays below the producer's and broker's default limit (1 MiB), so a record as large
#: as the broker accepted (or larger, if a producer compressed it) cannot stop the job.
DEAD_LETTER_MAX_VALUE = 1_000_000
DEAD_LETTER_MAX_KEY = 16_384

#: Longest excerpt of an offending value quoted in a reason.
_QUOTE_CHARS = 60
_JSON_WHITESPACE = " \t\r\n"
_PARSE_OPTIONS = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_RECORD}


def kafka_records(kafka: DataFrame) -> DataFrame:
    """Keep the Kafka source columns validation needs (key, value, topic, partition, offset).

    Markers that ``airlines smoke`` (``helm test``) writes to the input topics are not
    flight events: they are dropped here, so they neither count nor become dead letters.
    """
    is_marker = F.col("key").eqNullSafe(F.lit(SMOKE_KEY))
    return kafka.where(~is_marker).select(*RECORD_COLUMNS)


def _quoted(value: Column, spec: FieldSpec) -> Column:
    """An offending value for a reason: strings in quotes, cut to a readable length."""
    text = value.cast("string")
    text = F.when(
        F.char_length(text) > _QUOTE_CHARS, F.concat(text.substr(1, _QUOTE_CHARS), F.lit("…"))
    ).otherwise(text)
    return F.concat(F.lit('"'), text, F.lit('"')) if spec.json_type == "string" else text


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _value_problem(spec: FieldSpec, value: Column) -> Column:
    """The first JSON Schema check of this field that ``value`` (present, typed) fails."""
    name = spec.name
    checks: list[tuple[Column, str]] = []
    if spec.format in FORMAT_PATTERNS:
        checks.append((~value.rlike(FORMAT_PATTERNS[spec.format]), f"is not a valid {spec.format}"))
    if spec.is_date_time:
        checks.append((value.try_cast("timestamp").isNull(), "is not a valid date-time"))
    if spec.pattern is not None:
        checks.append((~value.rlike(spec.java_pattern), f"does not match {spec.pattern}"))
    if spec.min_length is not None:
        checks.append(
            (F.char_length(value) < spec.min_length, f"is shorter than {spec.min_length}")
        )
    if spec.max_length is not None:
        checks.append((F.char_length(value) > spec.max_length, f"is longer than {spec.max_length}"))
    if spec.enum is not None:
        allowed = ", ".join(repr(v) for v in spec.enum)
        checks.append((~value.isin(list(spec.enum)), f"is not one of {allowed}"))
    if spec.minimum is not None:
        checks.append((value < spec.minimum, f"must be >= {_number(spec.minimum)}"))
    if spec.exclusive_minimum is not None:
        checks.append(
            (~(value > spec.exclusive_minimum), f"must be > {_number(spec.exclusive_minimum)}")
        )
    if spec.maximum is not None:
        # NOT (v <= max) so that NaN (which Spark orders above every number) fails too.
        checks.append((~(value <= spec.maximum), f"must be <= {_number(spec.maximum)}"))
    if spec.exclusive_maximum is not None:
        checks.append(
            (~(value < spec.exclusive_maximum), f"must be < {_number(spec.exclusive_maximum)}")
        )
    problem: Column | None = None
    for failed, message in reversed(checks):
        text = F.concat(F.lit(f"{name}: "), _quoted(value, spec), F.lit(f" {message}"))
        problem = (
            F.when(failed, text) if problem is None else F.when(failed, text).otherwise(problem)
        )
    return problem if problem is not None else F.lit(None).cast("string")


def _absent_problem(spec: FieldSpec, diagnosis: Column) -> Column:
    """Why a field did not parse: missing, null, or another JSON type than the contract's."""
    raw = diagnosis[spec.name]
    got = F.lower(F.expr(f"schema_of_variant(`{_DIAGNOSIS}`.`{spec.name}`)"))
    return (
        F.when(raw.isNull(), F.lit(f"{spec.name}: required field is missing"))
        .when(F.expr(f"is_variant_null(`{_DIAGNOSIS}`.`{spec.name}`)"), f"{spec.name}: is null")
        .otherwise(F.concat(F.lit(f"{spec.name}: expected a JSON {spec.json_type}, got "), got))
    )


_TEXT = "_text"
_WIRE = "_wire"
_DIAGNOSIS = "_diagnosis"
_STRICT = "_strict"
NOT_STRICT_JSON = "not valid JSON: a key given twice, single quotes, NaN, or text after the object"
NOT_STRICT_JSON = "not valid JSON: a key given twice, single quotes, NaN, or text after the object"
#: Spark reads any JSON value into a text field as its JSON text: a value that may
#: have been an object, array, boolean or number makes the record worth a diagnosis.
_MAYBE_NOT_A_STRING = r"^(?:[\[{]|true$|false$|-?[0-9][0-9.eE+-]*$)"


def _type_problem(spec: FieldSpec, diagnosis: Column) -> Column:
    """A text field that held another JSON type (known only for diagnosed records)."""
    if spec.json_type != "string":
        return F.lit(None).cast("string")
    got = F.lower(F.expr(f"schema_of_variant(`{_DIAGNOSIS}`.`{spec.name}`)"))
    return F.when(
        diagnosis.isNotNull() & (got != "string"),
        F.concat(F.lit(f"{spec.name}: expected a JSON string, got "), got),
    )


def validate_records(records: DataFrame) -> DataFrame:
    """Parse each record against the contract; add ``event`` (typed) and ``rejection``.

    ``rejection`` is null for a valid event, else every problem found, ``"; "``-joined:
    an empty (null) value, bytes that are not UTF-8, text that is not one JSON object,
    missing/null fields, wrong JSON types, values outside the contract's bounds,
    patterns, enums and formats, and broken cross-field rules. ``event`` is null
    when ``rejection`` is not.

    Unknown extra keys are ignored (a tolerant reader: producers may add a field
    before the job knows it).
    """
    specs = event_fields()
    text = F.col(_TEXT)
    wire = F.col(_WIRE)
    parsed = records.withColumn(_TEXT, F.col("value").cast("string")).withColumn(
        _WIRE, F.from_json(text, wire_schema(), _PARSE_OPTIONS)
    )
    # The variant parse only runs for records that already failed, or whose text field
    # holds what may have been another JSON type (CASE evaluates lazily), so valid
    # traffic pays for no diagnosis.
    suspicious = wire[CORRUPT_RECORD].isNotNull()
    for spec in specs:
        suspicious = suspicious | wire[spec.name].isNull()
        if spec.json_type == "string":
            suspicious = suspicious | wire[spec.name].rlike(_MAYBE_NOT_A_STRING)
    parsed = parsed.withColumn(
        _DIAGNOSIS, F.when(suspicious, F.from_json(text, diagnostic_schema(), _PARSE_OPTIONS))
    )
    diagnosis = F.col(_DIAGNOSIS)

    # Typed fields at the top level, so the cross-field rules' SQL can name them.
    typed = [
        (wire[s.name].try_cast("timestamp") if s.is_date_time else wire[s.name]).alias(s.name)
        for s in specs
    ]
    # Spark's reader is lenient where JSON is not: it takes a key given twice (the first
    # copy, where pydantic takes the last), single quotes, NaN, and ignores what follows
    # the object. Spark's variant parser is strict; wrapped in [ ], a second element
    # means text after the object.
    strict = F.expr(f"try_parse_json(concat('[', `{_TEXT}`, ']'))").alias(_STRICT)
    parsed = parsed.select(*RECORD_COLUMNS, _TEXT, _WIRE, _DIAGNOSIS, strict, *typed)
    strictly = F.col(_STRICT)

    trimmed = F.trim(text, F.lit(_JSON_WHITESPACE))
    structure = (
        F.when(F.col("value").isNull(), F.lit("empty message: the value is null"))
        .when(~F.expr("is_valid_utf8(value)"), F.lit("value is not valid UTF-8"))
        .when(~trimmed.startswith("{"), F.lit("not a JSON object"))
        .when(
            ~trimmed.endswith("}") | diagnosis[CORRUPT_RECORD].isNotNull(),
            F.lit("not valid JSON"),
        )
        .when(
            strictly.isNull(),
            F.lit(NOT_STRICT_JSON),
        )
        .when(
            F.expr(f"variant_get(`{_STRICT}`, '$[1]')").isNotNull(),
            F.lit("not valid JSON: more than one value"),
        )
    )
    field_problems = [
        F.when(wire[s.name].isNull(), _absent_problem(s, diagnosis)).otherwise(
            F.coalesce(_type_problem(s, diagnosis), _value_problem(s, wire[s.name]))
        )
        for s in specs
    ]
    rule_problems = [
        # A rule over a missing field is unknown (null), not broken: the field itself
        # is already reported.
        F.when(~F.coalesce(F.expr(rule.sql), F.lit(True)), F.lit(f"{rule.name}: {rule.message}"))
        for rule in CROSS_FIELD_RULES
    ]
    # Like pydantic, judge the cross-field rules only once every field is valid.
    rejection = F.coalesce(
        structure,
        F.nullif(F.concat_ws("; ", *field_problems), F.lit("")),
        F.nullif(F.concat_ws("; ", *rule_problems), F.lit("")),
    )
    judged = parsed.select(*RECORD_COLUMNS, *[s.name for s in specs], rejection.alias("rejection"))
    # A rejected record carries no event: what Spark made of it can be outside what any
    # reader handles (a number read as a timestamp in the year -2435 breaks Python's
    # datetime). Two projections, so the rejection is computed once.
    event = F.when(F.col("rejection").isNull(), F.struct(*[F.col(s.name) for s in specs]))
    return judged.select(*RECORD_COLUMNS, event.alias("event"), "rejection")


def valid_events(validated: DataFrame) -> DataFrame:
    """The records that passed validation, with their source topic."""
    return validated.where(F.col("rejection").isNull()).select("topic", "event")


def rejected_records(validated: DataFrame) -> DataFrame:
    """The records that failed validation: original key/value, source, reason."""
    return validated.where(F.col("rejection").isNotNull()).select(*RECORD_COLUMNS, "rejection")


def dead_letter_messages(rejected: DataFrame) -> DataFrame:
    """Kafka messages for the dead-letter topic.

    The value is the original bytes, unchanged (null stays null), and so is the key;
    headers say where the record came from and why it was rejected. A value longer than
    :data:`DEAD_LETTER_MAX_VALUE` (a key longer than :data:`DEAD_LETTER_MAX_KEY`) is cut
    to it, and the ``dlq.truncated`` header gives the original value's size: a dead
    letter the broker refused would stop the job on that record for good.
    """

    def header(name: str, value: Column) -> Column:
        return F.struct(
            F.lit(name).alias("key"), F.encode(value.cast("string"), "UTF-8").alias("value")
        )

    def cut(column: str, limit: int) -> Column:
        data = F.col(column)
        return F.when(F.length(data) > limit, F.substring(data, 1, limit)).otherwise(data)

    common = [
        header(HEADER_SOURCE_TOPIC, F.col("topic")),
        header(HEADER_SOURCE_PARTITION, F.col("partition")),
        header(HEADER_SOURCE_OFFSET, F.col("offset")),
        header(HEADER_REASON, F.col("rejection")),
    ]
    too_long = F.coalesce(F.length("value") > DEAD_LETTER_MAX_VALUE, F.lit(False))
    headers = F.when(
        too_long, F.array(*common, header(HEADER_TRUNCATED, F.length("value")))
    ).otherwise(F.array(*common))
    return rejected.select(
        cut("key", DEAD_LETTER_MAX_KEY).alias("key"),
        cut("value", DEAD_LETTER_MAX_VALUE).alias("value"),
        headers.alias("headers"),
    )


def enrich(events: DataFrame, routes: Mapping[str, str]) -> DataFrame:
    """Flatten events and add ``route_name`` (by source topic) and ``event_time``.

    ``routes`` maps topic name -> route name (``TopicConfig.route_name``).
    """
    if not routes:
        raise ValueError("no topic -> route mapping given")
    route: Column | None = None
    for topic, name in routes.items():
        route = (
            F.when(F.col("topic") == topic, name)
            if route is None
            else route.when(F.col("topic") == topic, name)
        )
    assert route is not None
    return events.select(
        route.alias("route_name"),
        F.col("event.timestamp").alias("event_time"),
        "event.*",
    )


def distinct_on_time_events(enriched: DataFrame, *, watermark: timedelta) -> DataFrame:
    """Drop late events, then every repeat of an ``event_id``: each event counts once.

    The watermark is the highest event time of the earlier micro-batches minus
    ``watermark``; an event at or before it is late. Spark's de-duplication operator
    drops late rows first and counts each one (``numRowsDroppedByWatermark``), then
    keeps the first row of each ``event_id`` (the others are counted as
    ``numDroppedDuplicateRows``). Running it on single events, before any
    aggregation, is what makes both counts exact: an aggregation's own late count
    is taken after partial aggregation, one per group.

    An id is remembered until the watermark passes its event time plus ``watermark``;
    a repeat that arrives later than that is late anyway, so no repeat is aggregated.

    On a batch DataFrame (tests, benchmarks) there is no earlier batch, so nothing is
    late; Spark has no batch form of the operator, and ``dropDuplicates`` is its
    equivalent there.
    """
    if not enriched.isStreaming:
        return enriched.dropDuplicates(["event_id"])
    watermarked = enriched.withWatermark("event_time", spark_interval(watermark))
    return watermarked.dropDuplicatesWithinWatermark(["event_id"])


def aggregate_windows(
    events: DataFrame,
    *,
    window: timedelta,
    slide: timedelta | None,
) -> DataFrame:
    """Per (event-time window, route, airline, flight): the analytics the sink stores.

    ``events`` come from :func:`distinct_on_time_events` in the job (their event time
    carries the watermark, so window state is dropped once a window can no longer
    change). With sliding windows an on-time event may also fall in a window that has
    already closed; Spark drops that one window row (and counts it), not the event.
    """
    windowed = F.window(
        "event_time",
        spark_interval(window),
        spark_interval(slide) if slide is not None else None,
    )
    delayed = (F.col("flight_status") == FlightStatus.DELAYED.value).cast("long")
    return (
        events.groupBy(windowed.alias("window"), "route_name", "airline", "flight_id")
        .agg(
            F.count(F.lit(1)).alias("event_count"),
            F.sum("passenger_count").alias("total_passengers"),
            F.avg("ticket_price").alias("avg_ticket_price"),
            F.avg("delay_minutes").alias("avg_delay_minutes"),
            F.sum(delayed).alias("delayed_count"),
        )
        .withColumn("delayed_share", F.col("delayed_count") / F.col("event_count"))
    )


def sink_rows(aggregates: DataFrame) -> DataFrame:
    """The aggregates as the Redis sink writes them: flat, times as epoch milliseconds.

    ``updated_at_ms`` is the micro-batch's timestamp: Spark records it in the offset log
    and reuses it when a batch is replayed after a crash, so a replay writes the very
    same values (a wall-clock time taken in the sink would not).
    """
    return aggregates.select(
        "route_name",
        "airline",
        "flight_id",
        F.unix_millis(F.col("window.start")).alias("window_start_ms"),
        F.unix_millis(F.col("window.end")).alias("window_end_ms"),
        "event_count",
        "total_passengers",
        "avg_ticket_price",
        "avg_delay_minutes",
        "delayed_count",
        "delayed_share",
        F.unix_millis(F.current_timestamp()).alias("updated_at_ms"),
    )
