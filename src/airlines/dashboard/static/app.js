// The dashboard page: everything it shows comes from the dashboard's own JSON API (/api),
// and it refreshes in place when the job finishes a batch (server-sent events, /api/events),
// with a slow poll as a safety net. No framework, no CDN: plotly.js is served by the dashboard.
"use strict";

const state = { route: null, window: "latest", flight: null, busy: false, again: false };
const PLOT = { displayModeBar: false, responsive: true };
const $ = (id) => document.getElementById(id);

async function api(path) {
  let response;
  try {
    response = await fetch(path, { cache: "no-store", headers: { Accept: "application/json" } });
  } catch (err) {
    return { ok: false, status: 0, body: { detail: "the dashboard is unreachable" } };
  }
  let body;
  try { body = await response.json(); } catch (err) { body = { detail: response.statusText }; }
  return { ok: response.ok, status: response.status, body };
}

// Data is text, never markup. Tables set textContent; plotly reads labels as a small HTML
// subset (<b>, <a href>, <span style>), so names from the events are escaped for it, and
// isolated (FSI ... PDI) so that bidirectional controls in a name cannot reorder what
// follows it.
const label = (text) =>
  `\u2068${String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")}\u2069`;

// -- formatting (the same as `airlines query` prints) --------------------------------------
const fmt = {
  delay: (x) => (x === null ? "–" : x.toFixed(1)),
  share: (x) => (x === null ? "–" : `${Math.round(x * 100)}%`),
  price: (x) => (x === null ? "–" : x.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })),
  int: (x) => (x === null ? "–" : String(x)),
  time: (iso) => (iso ? iso.slice(0, 16).replace("T", " ") : "–"),
  window: (start, end) => `${fmt.time(start)}–${end ? end.slice(11, 16) : ""}`,
  age: (s) => (s === null ? "–" : s < 90 ? `${Math.round(s)} s ago` : `${Math.round(s / 60)} min ago`),
};

function cell(row, field, value, text, numeric = true) {
  const td = document.createElement("td");
  td.dataset.field = field;
  if (value !== undefined && value !== null) td.dataset.value = String(value);
  td.textContent = text;
  if (numeric) td.className = "num";
  row.appendChild(td);
}

function fill(table, items, build) {
  const body = $(table).querySelector("tbody");
  body.replaceChildren(...items.map((item) => {
    const tr = document.createElement("tr");
    build(tr, item);
    return tr;
  }));
}

function show(id, text) {
  const el = $(id);
  el.hidden = !text;
  el.textContent = text || "";
}

// -- errors --------------------------------------------------------------------------------
let unavailable = null;

function setBanner(detail) {
  unavailable = detail;
  show("banner", detail ? `Cannot read the analytics: ${detail}` : "");
  document.querySelector("main").classList.toggle("stale", Boolean(detail));
  if (detail) setStatus("bad", "Redis unreachable", "unavailable");
}

function setStatus(kind, text, status) {
  const pill = $("live-status");
  pill.className = `pill pill-${kind}`;
  pill.textContent = text;
  pill.dataset.status = status;
}

// -- sections --------------------------------------------------------------------------------
async function loadRoutes() {
  const res = await api("/api/routes");
  if (!res.ok) return res;
  const routes = res.body;
  show("routes-empty", routes.length ? "" : $("routes-empty").dataset.text);
  $("routes-table").hidden = !routes.length;
  fill("routes-table", routes, (tr, r) => {
    tr.dataset.route = r.route;
    tr.className = "clickable";
    tr.onclick = () => { state.route = r.route; state.window = "latest"; refresh(); };
    cell(tr, "route", r.route, r.route, false);
    cell(tr, "latest_window_start", r.latest_window_start, fmt.time(r.latest_window_start), false);
    cell(tr, "flights_in_latest", r.flights_in_latest, fmt.int(r.flights_in_latest));
    cell(tr, "events_in_latest", r.events_in_latest, fmt.int(r.events_in_latest));
    cell(tr, "avg_delay_minutes", r.avg_delay_minutes, fmt.delay(r.avg_delay_minutes));
    cell(tr, "delayed_share", r.delayed_share, fmt.share(r.delayed_share));
    cell(tr, "avg_ticket_price", r.avg_ticket_price, fmt.price(r.avg_ticket_price));
  });
  $("routes-chart").hidden = !routes.length;
  if (routes.length) {
    Plotly.react("routes-chart", [{
      type: "bar",
      x: routes.map((r) => r.route),
      y: routes.map((r) => r.avg_delay_minutes),
      hovertext: routes.map((r) => `${label(r.route)}: ${fmt.delay(r.avg_delay_minutes)} min, ${fmt.share(r.delayed_share)} delayed, $${fmt.price(r.avg_ticket_price)}`),
      hoverinfo: "text",
      marker: { color: "#1d4ed8" },
    }], {
      margin: { t: 10, r: 10, b: 30, l: 50 },
      yaxis: { title: { text: "avg delay (min)" }, rangemode: "tozero" },
      xaxis: { type: "category" },
    }, PLOT);
  }
  const select = $("delays-route");
  const names = routes.map((r) => r.route);
  if (!names.includes(state.route)) state.route = names[0] || null;
  select.replaceChildren(...names.map((n) => new Option(n, n, false, n === state.route)));
  return res;
}

async function loadDelays() {
  if (!state.route) {
    show("delays-empty", "No route has analytics yet.");
    $("delays-table").hidden = true;
    Plotly.purge("delays-chart");
    return { ok: true };
  }
  const route = encodeURIComponent(state.route);
  const [windows, res] = await Promise.all([
    api(`/api/routes/${route}/windows`),
    api(`/api/routes/${route}/top-delays?window=${encodeURIComponent(state.window)}&limit=10`),
  ]);
  if (windows.ok) {
    const select = $("delays-window");
    const options = [new Option("latest", "latest", false, state.window === "latest")];
    for (const w of windows.body.windows) {
      const value = String(w.window_start_ms);
      options.push(new Option(fmt.time(w.window_start), value, false, value === state.window));
    }
    select.replaceChildren(...options);
  }
  if (!res.ok) return res;
  const top = res.body;
  const flights = top.flights;
  $("delays-window-label").textContent = top.window_start ? `window starting ${fmt.time(top.window_start)} UTC` : "";
  $("delays-table").dataset.windowStartMs = top.window_start_ms === null ? "" : String(top.window_start_ms);
  show("delays-empty", flights.length ? "" : `No flights of ${top.route} in this window.`);
  $("delays-table").hidden = !flights.length;
  fill("delays-table", flights, (tr, f) => {
    tr.dataset.flight = f.flight_id;
    tr.className = "clickable";
    tr.onclick = () => selectFlight(f.flight_id);
    cell(tr, "flight_id", f.flight_id, f.flight_id, false);
    cell(tr, "airline", f.airline, f.airline, false);
    cell(tr, "avg_delay_minutes", f.avg_delay_minutes, fmt.delay(f.avg_delay_minutes));
    cell(tr, "delayed_share", f.delayed_share, fmt.share(f.delayed_share));
    cell(tr, "event_count", f.event_count, fmt.int(f.event_count));
    cell(tr, "total_passengers", f.total_passengers, fmt.int(f.total_passengers));
    cell(tr, "avg_ticket_price", f.avg_ticket_price, fmt.price(f.avg_ticket_price));
  });
  $("delays-chart").hidden = !flights.length;
  if (!flights.length) { Plotly.purge("delays-chart"); return res; }
  if (!state.flight) { state.flight = flights[0].flight_id; $("flight-id").value = state.flight; }
  Plotly.react("delays-chart", [{
    type: "bar",
    x: flights.map((f) => f.flight_id),
    y: flights.map((f) => f.avg_delay_minutes),
    hovertext: flights.map((f) => `${label(f.airline)}: ${fmt.delay(f.avg_delay_minutes)} min, ${fmt.share(f.delayed_share)} delayed`),
    hoverinfo: "text",
    marker: { color: "#c2410c" },
  }], {
    margin: { t: 10, r: 10, b: 40, l: 50 },
    yaxis: { title: { text: "avg delay (min)" }, rangemode: "tozero" },
    xaxis: { type: "category" },
  }, PLOT);
  const chart = $("delays-chart");
  if (!chart.dataset.bound) {
    chart.dataset.bound = "1";
    chart.on("plotly_click", (event) => selectFlight(String(event.points[0].x)));
  }
  return res;
}

function selectFlight(flightId) {
  state.flight = flightId.trim().toUpperCase();
  $("flight-id").value = state.flight;
  loadFlight().then(finish);
}

async function loadFlight() {
  if (!state.flight) {
    show("flight-message", "Choose a flight: click a bar of the top delays, or enter its id.");
    $("flight-table").hidden = true;
    $("flight-chart").hidden = true;
    return { ok: true };
  }
  const res = await api(`/api/flights/${encodeURIComponent(state.flight)}?limit=12`);
  const table = $("flight-table");
  table.dataset.flight = state.flight;
  if (res.status === 404 || res.status === 422) {
    show("flight-message", res.status === 404 ? `No analytics for flight ${state.flight}: ${res.body.detail}.` : `Not a flight id: ${res.body.detail}.`);
    table.hidden = true;
    $("flight-chart").hidden = true;
    Plotly.purge("flight-chart");
    return { ok: true };
  }
  if (!res.ok) return res;
  const windows = res.body;
  const oldest = [...windows].reverse();
  show("flight-message", "");
  table.hidden = false;
  $("flight-chart").hidden = false;
  fill("flight-table", windows, (tr, w) => {
    tr.dataset.windowStartMs = String(w.window_start_ms);
    cell(tr, "window", w.window_start, fmt.window(w.window_start, w.window_end), false);
    cell(tr, "route", w.route, w.route, false);
    cell(tr, "avg_delay_minutes", w.avg_delay_minutes, fmt.delay(w.avg_delay_minutes));
    cell(tr, "delayed_share", w.delayed_share, fmt.share(w.delayed_share));
    cell(tr, "event_count", w.event_count, fmt.int(w.event_count));
    cell(tr, "total_passengers", w.total_passengers, fmt.int(w.total_passengers));
    cell(tr, "avg_ticket_price", w.avg_ticket_price, fmt.price(w.avg_ticket_price));
  });
  const x = oldest.map((w) => fmt.time(w.window_start).slice(5));
  Plotly.react("flight-chart", [
    { type: "scatter", mode: "lines+markers", name: "avg delay (min)", x, y: oldest.map((w) => w.avg_delay_minutes), line: { color: "#c2410c" } },
    { type: "scatter", mode: "lines+markers", name: "avg price ($)", x, y: oldest.map((w) => w.avg_ticket_price), yaxis: "y2", line: { color: "#1d4ed8" } },
  ], {
    margin: { t: 10, r: 60, b: 40, l: 50 },
    legend: { orientation: "h", y: 1.12 },
    xaxis: { type: "category" },
    yaxis: { title: { text: "avg delay (min)" }, rangemode: "tozero" },
    yaxis2: { title: { text: "avg price ($)" }, overlaying: "y", side: "right", rangemode: "tozero" },
  }, PLOT);
  return res;
}

async function loadHealth() {
  const res = await api("/api/health?batches=30");
  if (!res.ok) return res;
  const h = res.body;
  const last = h.batches[0];
  $("health-status").textContent = h.status;
  $("health-status").dataset.value = h.status;
  $("health-batch").textContent = h.last_batch_id === null ? "none yet" : `#${h.last_batch_id}`;
  $("health-batch").dataset.value = h.last_batch_id === null ? "" : String(h.last_batch_id);
  $("health-age").textContent = fmt.age(h.age_seconds);
  $("health-rows").textContent = fmt.int(h.last_batch_rows);
  $("health-watermark").textContent = last && last.watermark ? `${fmt.time(last.watermark)} UTC` : "–";
  if (!unavailable) {
    if (h.status === "ok") setStatus("ok", `live · batch #${h.last_batch_id}`, "ok");
    else if (h.status === "stale") setStatus("warn", `stale · last batch ${fmt.age(h.age_seconds)}`, "stale");
    else setStatus("wait", "waiting for the job's first batch", "no-batches");
  }
  fill("batches-table", h.batches.slice(0, 10), (tr, b) => {
    tr.dataset.batch = String(b.batch_id);
    cell(tr, "batch_id", b.batch_id, String(b.batch_id), false);
    cell(tr, "finished_at", b.finished_at, fmt.time(b.finished_at), false);
    cell(tr, "input_rows", b.input_rows, fmt.int(b.input_rows));
    cell(tr, "rows_written", b.rows_written, fmt.int(b.rows_written));
    cell(tr, "dead_lettered", b.dead_lettered, fmt.int(b.dead_lettered));
    cell(tr, "late_events", b.late_events, fmt.int(b.late_events));
    cell(tr, "duplicates", b.duplicates, fmt.int(b.duplicates));
    cell(tr, "markers", b.markers, fmt.int(b.markers));
    cell(tr, "duration_ms", b.duration_ms, `${(b.duration_ms / 1000).toFixed(1)} s`);
  });
  const batches = [...h.batches].reverse();
  const ids = batches.map((b) => `#${b.batch_id}`);
  $("batches-table").hidden = !batches.length;
  $("health-chart").hidden = !batches.length;
  if (!batches.length) { Plotly.purge("health-chart"); return res; }
  Plotly.react("health-chart", [
    { type: "bar", name: "dead letters", x: ids, y: batches.map((b) => b.dead_lettered), marker: { color: "#b91c1c" } },
    { type: "bar", name: "late events", x: ids, y: batches.map((b) => b.late_events), marker: { color: "#b45309" } },
    { type: "scatter", mode: "lines", name: "records in", x: ids, y: batches.map((b) => b.input_rows), yaxis: "y2", line: { color: "#6b7280" } },
  ], {
    barmode: "group",
    margin: { t: 10, r: 60, b: 40, l: 50 },
    legend: { orientation: "h", y: 1.12 },
    xaxis: { type: "category" },
    yaxis: { title: { text: "records per batch" }, rangemode: "tozero" },
    yaxis2: { title: { text: "records in" }, overlaying: "y", side: "right", rangemode: "tozero" },
  }, PLOT);
  return res;
}

// -- refreshing --------------------------------------------------------------------------------
function finish(results) {
  const list = Array.isArray(results) ? results : [results];
  const failed = list.find((r) => r && !r.ok);
  if (failed) setBanner(failed.body.detail || `HTTP ${failed.status}`);
  else if (unavailable) setBanner(null);
  $("updated").textContent = `updated ${new Date().toISOString().slice(11, 19)} UTC`;
  document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes) + 1);
}

async function refresh() {
  if (state.busy) { state.again = true; return; }
  state.busy = true;
  try {
    const routes = await loadRoutes();
    const [delays, health] = await Promise.all([loadDelays(), loadHealth()]);
    const flight = await loadFlight();
    finish([routes, delays, health, flight]);
    if (!routes.ok) setBanner(routes.body.detail);
  } finally {
    state.busy = false;
    if (state.again) { state.again = false; refresh(); }
  }
}

function listen() {
  if (!window.EventSource) { setInterval(refresh, 5000); return; }
  const events = new EventSource("/api/events");
  events.addEventListener("update", () => { setBanner(null); refresh(); });
  events.addEventListener("unavailable", (event) => {
    setBanner(JSON.parse(event.data).detail);
  });
  events.onerror = () => {
    // Refused for good (401, or 429: too many live streams): poll instead.
    if (events.readyState === EventSource.CLOSED) {
      setStatus("wait", "polling", "polling");
      setInterval(refresh, 5000);
      return;
    }
    if (!unavailable) setStatus("wait", "reconnecting…", "reconnecting");
  };
}

function init() {
  $("routes-empty").dataset.text = $("routes-empty").textContent.replace(/\s+/g, " ").trim();
  $("delays-route").onchange = (e) => { state.route = e.target.value; state.window = "latest"; loadDelays().then(finish); };
  $("delays-window").onchange = (e) => { state.window = e.target.value; loadDelays().then(finish); };
  $("flight-form").onsubmit = (e) => { e.preventDefault(); selectFlight($("flight-id").value); };
  refresh();
  listen();
  // A safety net: ages move on, and an event could be missed while reconnecting.
  setInterval(refresh, 30000);
}

init();
