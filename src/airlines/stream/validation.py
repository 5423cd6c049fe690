"""Validation: Kafka records -> typed flight events, or a reason for each rejected one.

Small pure functions from DataFrame to DataFrame (or to a Column); they work the same
on a streaming DataFrame (the job) and a batch one (the unit tests)::

    kafka_records -> validate_records -+-> valid_events
                                       +-> rejected_records

The job itself judges with :func:`gated_events`, which sends every rejected record to
the dead-letter topic (:mod:`airlines.stream.dead_letters`) from inside the plan.

Validation is explicit because Spark's permissive ``from_json`` never fails: bad JSON,
wrong types and missing fields come back as nulls. Every record ends up either as an
event or as a dead letter with a reason naming each field and problem.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F  # noqa: N812 (the PySpark convention)

from airlines.config.types import format_duration
from airlines.contract.event import (
    CROSS_FIELD_RULES,
    DEFAULT_MAX_FUTURE_SKEW,
    MAX_FUTURE_SKEW_SETTING,
    MAX_RECORD_BYTES,
)
from airlines.contract.smoke import SMOKE_HEADER, SMOKE_KEY
from airlines.stream.jvm import CHECKED, READ_EVENT
from airlines.stream.schema import (
    CORRUPT_RECORD,
    FORMAT_PATTERNS,
    FieldSpec,
    diagnostic_schema,
    event_fields,
    wire_schema,
)

#: The Kafka columns validation keeps (renamed so they cannot clash with event fields,
#: e.g. Kafka's own ``timestamp``).
RECORD_COLUMNS = ("key", "value", "topic", "partition", "offset")
#: The Kafka record's own timestamp (the producer's clock when it sent it, for
#: ``CreateTime`` topics): what an event's time is bounded by (:func:`future_time_problem`).
RECORD_TIME = "record_time"

#: Longest excerpt of an offending value quoted in a reason.
_QUOTE_CHARS = 60
_JSON_WHITESPACE = " \t\r\n"
_PARSE_OPTIONS = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_RECORD}


def is_smoke_marker() -> Column:
    """A Kafka record (with ``headers``) is a marker of ``airlines smoke`` (``helm test``):
    its key *and* a header say so, as :func:`airlines.ops.smoke.is_smoke_marker` decides. The
    key alone is not enough: anyone could use it to hide records from the reconciliation.
    """
    has_header = F.exists(F.col("headers"), lambda header: header["key"] == F.lit(SMOKE_HEADER))
    return F.col("key").eqNullSafe(F.lit(SMOKE_KEY)) & F.coalesce(has_header, F.lit(False))


def kafka_records(kafka: DataFrame, *, markers_metric: str | None = None) -> DataFrame:
    """Keep the Kafka source columns validation needs (key, value, topic, partition, offset,
    and the record's timestamp as :data:`RECORD_TIME`).

    Markers that ``airlines smoke`` (``helm test``) writes to the input topics are not
    flight events (:func:`is_smoke_marker`): they are dropped here, neither aggregated nor
    dead-lettered, and counted in the observed metric ``markers_metric`` (``markers``),
    so that every record read is accounted for.
    """
    marker = is_smoke_marker()
    if markers_metric is not None:
        kafka = kafka.observe(markers_metric, F.count_if(marker).alias("markers"))
    return kafka.where(~marker).select(*RECORD_COLUMNS, F.col("timestamp").alias(RECORD_TIME))


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
    if not checks:
        return F.lit(None).cast("string")
    # One CASE picks the first failed check's message; the field's name and its value
    # are written once around it (null when no check failed).
    first: Column | None = None
    for failed, message in checks:
        first = (
            F.when(failed, F.lit(f" {message}"))
            if first is None
            else first.when(failed, F.lit(f" {message}"))
        )
    assert first is not None
    return F.concat(F.lit(f"{name}: "), _quoted(value, spec), first)


def _absent_problem(spec: FieldSpec, diagnosis: Column) -> Column:
    """Why a field did not parse: missing, null, or another JSON type than the contract's."""
    raw = diagnosis[spec.name]
    got = F.lower(F.schema_of_variant(raw))
    return (
        F.when(raw.isNull(), F.lit(f"{spec.name}: required field is missing"))
        .when(F.is_variant_null(raw), f"{spec.name}: is null")
        .otherwise(F.concat(F.lit(f"{spec.name}: expected a JSON {spec.json_type}, got "), got))
    )


_READ = "_read"
#: The column of :func:`parse_records` saying the fast path checked the record.
FAST_PATH_CHECKED = "_checked"
_CHECKED = FAST_PATH_CHECKED
_READABLE = "_readable"
#: The reason of a record the full validation accepts but the reader could not read.
UNREADABLE = "not readable as an event (please report this record)"
NOT_STRICT_JSON = "not valid JSON: a key given twice, single quotes, NaN, or text after the object"
#: Spark reads any JSON value into a text field as its JSON text: a value that may
#: have been an object, array, boolean or number makes the record worth a diagnosis.
_MAYBE_NOT_A_STRING = r"^(?:[\[{]|true$|false$|-?[0-9][0-9.eE+-]*$)"


def _type_problem(spec: FieldSpec, diagnosis: Column) -> Column:
    """A text field that held another JSON type (known only for diagnosed records)."""
    if spec.json_type != "string":
        return F.lit(None).cast("string")
    got = F.lower(F.schema_of_variant(diagnosis[spec.name]))
    return F.when(
        diagnosis.isNotNull() & (got != "string"),
        F.concat(F.lit(f"{spec.name}: expected a JSON string, got "), got),
    )


def _let(value: Column, body: Callable[[Column], Column]) -> Column:
    """``body(value)`` with ``value`` computed once however often ``body`` uses it
    (a lambda binds it; Spark's subexpression elimination does not reach into the
    branch of a CASE, where the slow path runs)."""
    return F.transform(F.array(value), body)[0]


def _structure_problem(value: Column, text: Column, diagnosis: Column, strict: Column) -> Column:
    """The first thing wrong with a record as a whole, if any."""
    trimmed = F.trim(text, F.lit(_JSON_WHITESPACE))
    return (
        F.when(value.isNull(), F.lit("empty message: the value is null"))
        .when(~F.is_valid_utf8(value), F.lit("value is not valid UTF-8"))
        .when(~trimmed.startswith("{"), F.lit("not a JSON object"))
        .when(
            ~trimmed.endswith("}") | diagnosis[CORRUPT_RECORD].isNotNull(),
            F.lit("not valid JSON"),
        )
        .when(strict.isNull(), F.lit(NOT_STRICT_JSON))
        .when(
            F.variant_get(strict, "$[1]", "variant").isNotNull(),
            F.lit("not valid JSON: more than one value"),
        )
    )


def full_problem(value: Column) -> Column:
    """What is wrong with a record's bytes (null: nothing) by every check of the
    contract but the cross-field rules: its structure, then each field's problem.

    This is the slow path: it parses the record again leniently, strictly, and, if
    that looks wrong, a third time as variants to say exactly what arrived; each parse
    is bound once (:func:`_let`). The job runs it only for the records the fast path
    does not accept. A value past :data:`airlines.contract.event.MAX_RECORD_BYTES` is not
    parsed at all: its size is the problem.
    """
    return F.when(F.octet_length(value) > MAX_RECORD_BYTES, _size_problem(value)).otherwise(
        _content_problem(value)
    )


def _size_problem(value: Column) -> Column:
    return F.concat(
        F.lit("value: "),
        F.octet_length(value).cast("string"),
        F.lit(f" bytes, more than the {MAX_RECORD_BYTES} a record may have"),
    )


def _content_problem(value: Column) -> Column:
    specs = event_fields()
    text = value.cast("string")

    def with_wire(wire: Column) -> Column:
        # The variant parse only runs for records that already failed, or whose text
        # field holds what may have been another JSON type, so a valid record in
        # another form than the producers' pays for no diagnosis.
        suspicious = wire[CORRUPT_RECORD].isNotNull()
        for spec in specs:
            suspicious = suspicious | wire[spec.name].isNull()
            if spec.json_type == "string":
                suspicious = suspicious | wire[spec.name].rlike(_MAYBE_NOT_A_STRING)
        diagnosis = F.when(suspicious, F.from_json(text, diagnostic_schema(), _PARSE_OPTIONS))
        # Spark's reader is lenient where JSON is not: it takes a key given twice (the
        # first copy, where pydantic takes the last), single quotes, NaN, and ignores
        # what follows the object. Spark's variant parser is strict; wrapped in [ ], a
        # second element means text after the object.
        strict = F.try_parse_json(F.concat(F.lit("["), text, F.lit("]")))
        parsed = F.struct(diagnosis.alias("diagnosis"), strict.alias("strict"))
        return _let(parsed, lambda p: _problem(value, text, wire, p["diagnosis"], p["strict"]))

    return _let(F.from_json(text, wire_schema(), _PARSE_OPTIONS), with_wire)


def _problem(
    value: Column, text: Column, wire: Column, diagnosis: Column, strict: Column
) -> Column:
    field_problems = [
        F.when(wire[s.name].isNull(), _absent_problem(s, diagnosis)).otherwise(
            F.coalesce(_type_problem(s, diagnosis), _value_problem(s, wire[s.name]))
        )
        for s in event_fields()
    ]
    return F.coalesce(
        _structure_problem(value, text, diagnosis, strict),
        F.nullif(F.concat_ws("; ", *field_problems), F.lit("")),
    )


def parse_records(records: DataFrame, *, fast_path: bool = True) -> DataFrame:
    """Records with the contract's fields, typed, as columns of their own names.

    :data:`airlines.stream.jvm.READ_EVENT` reads them in the JVM, in one pass over the
    bytes for a record in the producers' own form, which it also checks
    (:data:`FAST_PATH_CHECKED`). ``fast_path=False`` reads every record with Spark's
    ``from_json`` and checks none: the full validation alone, which the fast path must
    agree with (tests).
    """
    specs = event_fields()
    value = F.col("value")
    read = F.call_function(READ_EVENT, value) if fast_path else _spark_read(value)
    # A value past the size bound is not read: the full validation rejects it unread.
    read = F.when(F.octet_length(value) <= MAX_RECORD_BYTES, read)
    with_read = records.select(*RECORD_COLUMNS, RECORD_TIME, read.alias(_READ))
    return with_read.select(
        *RECORD_COLUMNS,
        RECORD_TIME,
        F.coalesce(F.col(_READ)[CHECKED], F.lit(False)).alias(_CHECKED),
        F.col(_READ).isNotNull().alias(_READABLE),
        *[F.col(_READ)[s.name].alias(s.name) for s in specs],
    )


def _spark_read(value: Column) -> Column:
    """:data:`airlines.stream.jvm.READ_EVENT`'s struct as Spark SQL reads the record:
    ``from_json`` (lenient) and a cast of each date-time; nothing checked."""
    wire = F.from_json(value.cast("string"), wire_schema(), _PARSE_OPTIONS)

    def typed(w: Column) -> Column:
        fields = [
            (w[s.name].try_cast("timestamp") if s.is_date_time else w[s.name]).alias(s.name)
            for s in event_fields()
        ]
        return F.struct(*fields, F.lit(False).alias(CHECKED))

    return _let(wire, typed)


def _within_future_skew(skew: timedelta) -> Column:
    """The event's time is at most ``skew`` after its record's (null when either is)."""
    skew_us = round(skew.total_seconds() * 1_000_000)
    return F.unix_micros(F.col("timestamp")) <= F.unix_micros(F.col(RECORD_TIME)) + skew_us


def future_time_problem(skew: timedelta) -> Column:
    """Why a parsed record's event lies too far ahead of its Kafka record (null: it does
    not), word for word :func:`airlines.contract.event.future_time_problem`'s reason.

    The decision depends on the record alone (its two times), so replaying the same
    records decides the same way, whenever and however often they are read.
    """
    return F.when(
        ~_within_future_skew(skew),
        F.concat(
            F.lit("timestamp: "),
            F.date_format(F.col("timestamp"), "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'"),
            F.lit(
                f" is more than {format_duration(skew)} ({MAX_FUTURE_SKEW_SETTING}) "
                "after its Kafka record's timestamp "
            ),
            F.date_format(F.col(RECORD_TIME), "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"),
        ),
    )


def _rules_hold(skew: timedelta) -> Column:
    """Every cross-field rule holds, and the event's time is within ``skew`` of its record's."""
    holds = F.coalesce(_within_future_skew(skew), F.lit(False))
    for rule in CROSS_FIELD_RULES:
        holds = holds & F.coalesce(F.expr(rule.sql), F.lit(False))
    return holds


def _rules_problem(skew: timedelta) -> Column:
    """The cross-field rules a parsed record breaks, and its time's bound (null: none)."""
    broken = [
        # A rule over a missing field is unknown (null), not broken: the field itself
        # is already reported.
        F.when(~F.coalesce(F.expr(rule.sql), F.lit(True)), F.lit(f"{rule.name}: {rule.message}"))
        for rule in CROSS_FIELD_RULES
    ]
    return F.nullif(F.concat_ws("; ", *broken, future_time_problem(skew)), F.lit(""))


def rejection(max_future_skew: timedelta = DEFAULT_MAX_FUTURE_SKEW) -> Column:
    """Why a parsed record (:func:`parse_records`) is rejected, or null if it is valid.

    Every problem found, ``"; "``-joined: an empty (null) value, bytes that are not
    UTF-8, text that is not one JSON object, missing/null fields, wrong JSON types,
    values outside the contract's bounds, patterns, enums and formats; and, like
    pydantic, only once every field is valid, the broken cross-field rules and an event
    time more than ``max_future_skew`` after the record's (:func:`future_time_problem`).
    A record the
    fast path checked has only the rules left to break; only the others pay for
    :func:`full_problem` (CASE evaluates lazily).
    """
    problem = F.when(
        ~F.col(_CHECKED),
        F.coalesce(
            full_problem(F.col("value")),
            # What the full validation accepts, the reader reads (a property test checks
            # it); were it ever not so, the record would still be accounted for.
            F.when(~F.col(_READABLE), F.lit(UNREADABLE)),
        ),
    )
    return F.coalesce(problem, _rules_problem(max_future_skew))


def _event() -> Column:
    return F.struct(*[F.col(s.name) for s in event_fields()])


def validate_records(
    records: DataFrame,
    *,
    fast_path: bool = True,
    max_future_skew: timedelta = DEFAULT_MAX_FUTURE_SKEW,
) -> DataFrame:
    """Each record with ``event`` (typed) and ``rejection`` (:func:`rejection`).

    ``event`` is null when ``rejection`` is not. Unknown extra keys are ignored (a
    tolerant reader: producers may add a field before the job knows it).

    This is every record's verdict as a table (tests, tools); the job itself takes the
    valid events with :func:`gated_events`, which judges the same way.
    """
    specs = event_fields()
    parsed = parse_records(records, fast_path=fast_path)
    judged = parsed.select(
        *RECORD_COLUMNS,
        RECORD_TIME,
        *[s.name for s in specs],
        rejection(max_future_skew).alias("rejection"),
    )
    # A rejected record carries no event: what Spark made of it can be outside what any
    # reader handles (a number read as a timestamp in the year -2435 breaks Python's
    # datetime). Two projections, so the rejection is computed once.
    event = F.when(F.col("rejection").isNull(), _event())
    return judged.select(*RECORD_COLUMNS, event.alias("event"), "rejection")


def valid_events(validated: DataFrame) -> DataFrame:
    """The records that passed validation, with their source topic."""
    return validated.where(F.col("rejection").isNull()).select("topic", "event")


def gated_events(
    records: DataFrame,
    *,
    dead_letter_gate: str | None,
    max_future_skew: timedelta = DEFAULT_MAX_FUTURE_SKEW,
    records_metric: str | None = None,
    valid_metric: str | None = None,
) -> DataFrame:
    """The valid events of ``records`` (topic, event); every rejected record leaves through
    ``dead_letter_gate`` (a registered :data:`airlines.stream.jvm.DEAD_LETTER_GATE`).

    One filter does it: ``checked and the rules hold OR gate(reason, message)``. A record
    the fast path checked and whose rules hold never reaches the gate (OR evaluates
    lazily). For
    the others the reason is computed once, in the filter (no projection copies every
    record for it), and the gate keeps the record when there is none (valid in another
    form than the producers') and sends it to the dead-letter topic when there is one,
    as :func:`airlines.stream.dead_letters.dead_letter_columns` says. The gate is
    non-deterministic, so the optimizer neither moves nor drops it.
    ``dead_letter_gate=None`` only drops rejected records. An event more than
    ``max_future_skew`` after its record is rejected as one that breaks a cross-field
    rule is (:func:`future_time_problem`).

    ``records_metric`` and ``valid_metric`` name observed metrics (``observe``): the
    records judged, and the valid ones, in each micro-batch.
    """
    parsed = parse_records(records)
    if records_metric is not None:
        parsed = parsed.observe(records_metric, F.count(F.lit(1)).alias("records"))
    fast_valid = F.col(_CHECKED) & _rules_hold(max_future_skew)

    if dead_letter_gate is not None:
        gate = F.call_function(
            dead_letter_gate,
            *RECORD_COLUMNS,
            F.col(_CHECKED),
            F.col(_READABLE),
            _rules_problem(max_future_skew),
        )
        keep = fast_valid | gate
    else:
        keep = fast_valid | rejection(max_future_skew).isNull()
    kept = parsed.where(keep)
    if valid_metric is not None:
        kept = kept.observe(valid_metric, F.count(F.lit(1)).alias("valid"))
    return kept.select("topic", _event().alias("event"))


def rejected_records(validated: DataFrame) -> DataFrame:
    """The records that failed validation: original key/value, source, reason."""
    return validated.where(F.col("rejection").isNotNull()).select(*RECORD_COLUMNS, "rejection")


def gate_diagnosis(records: DataFrame) -> DataFrame:
    """What the gate computes for a record the fast path did not check: ``records``
    (with ``value``) -> :func:`full_problem` of each."""
    return records.select(full_problem(F.col("value")).alias("problem"))
