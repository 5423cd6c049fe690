"""The JSON the dashboard's API returns: the documents of ``airlines query --json``.

These models only describe them for the OpenAPI document; the API returns the very
dictionaries the CLI prints (:mod:`airlines.store.reader`), so the two cannot differ.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class RouteOut(BaseModel):
    """A route and the figures of its latest window (``airlines query routes``)."""

    route: str = Field(description="Route name, e.g. east-coast.")
    windows: int = Field(description="Windows kept in the route's index.")
    latest_window_start_ms: int | None = Field(description="Latest window's start, epoch ms.")
    latest_window_start: str | None = Field(description="Latest window's start, ISO 8601 UTC.")
    flights_in_latest: int = Field(description="Flights with analytics in the latest window.")
    events_in_latest: int = Field(description="Events aggregated in the latest window.")
    avg_delay_minutes: float | None = Field(description="Average delay over those events.")
    delayed_share: float | None = Field(description="Share of those events that were delayed.")
    avg_ticket_price: float | None = Field(description="Average ticket price over them (USD).")


class WindowOut(BaseModel):
    """One flight's analytics in one window (a hash the job wrote)."""

    route: str
    airline: str
    flight_id: str
    window_start_ms: int
    window_end_ms: int
    window_start: str
    window_end: str
    event_count: int
    total_passengers: int
    avg_ticket_price: float
    avg_delay_minutes: float
    delayed_count: int
    delayed_share: float
    updated_at_ms: int
    updated_at: str
    batch_id: int = Field(description="The micro-batch that last wrote it.")


class TopDelaysOut(BaseModel):
    """A route's most delayed flights in a window (``airlines query top-delays``)."""

    route: str
    window_start_ms: int | None = Field(description="None: the route has no windows.")
    window_start: str | None
    flights: list[WindowOut] = Field(description="Highest average delay first.")


class WindowStartOut(BaseModel):
    window_start_ms: int
    window_start: str


class RouteWindowsOut(BaseModel):
    """Start times of a route's latest windows, newest first (the window chooser)."""

    route: str
    windows: list[WindowStartOut]


class BatchOut(BaseModel):
    """One analytics micro-batch, as the job logged it."""

    batch_id: int
    finished_at_ms: int
    finished_at: str
    input_rows: int = Field(description="Kafka records read.")
    rows_written: int = Field(description="Window rows written to Redis.")
    dead_lettered: int = Field(description="Records sent to the dead-letter topic.")
    late_events: int = Field(description="Events dropped as late by the watermark.")
    duplicates: int = Field(description="Repeated event ids dropped.")
    markers: int = Field(description="Smoke-test markers (airlines smoke) skipped.")
    duration_ms: int
    watermark_ms: int | None
    watermark: str | None


class HealthOut(BaseModel):
    """The pipeline's health (``airlines query health``) and the dashboard's verdict."""

    status: str = Field(description="ok, stale (no batch lately) or no-batches.")
    stale_after_seconds: float = Field(description="Age of the last batch that is stale.")
    last_batch_id: int | None
    last_batch_at_ms: int | None = Field(description="When the job last finished a batch.")
    last_batch_at: str | None
    last_batch_rows: int | None
    age_seconds: float | None = Field(description="Seconds since the last batch.")
    batches: list[BatchOut] = Field(description="Latest batch reports, newest first.")


class ErrorOut(BaseModel):
    """What went wrong, in one sentence."""

    detail: str
