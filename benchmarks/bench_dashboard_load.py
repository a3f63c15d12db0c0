"""Dashboard under load: concurrent simulated users changing filters through the served app's HTTP API.

Builds a warehouse (bench_dashboard.build_warehouse, in a throwaway database) or reuses one
(--url), serves the real dashboard on 127.0.0.1 (ui.app.serve, a free port), then runs `users`
simulated users for `seconds` seconds. Each user speaks the browser's own protocol (sse_v3:
POST /gradio_api/queue/join, then the session's /gradio_api/queue/data event stream) and behaves
like a person: the page loads, then it changes one filter at a time, picked at random from the
option lists the app itself serves (/config) and, for the region -> state -> city cascade, from
the narrowed choices of the last response; a short pause between changes (--think). A change
sends the events a browser sends for it:

    page load       on_load + on_quality                 (at the start of each session)
    period preset   on_preset, then filters + on_quality (the new dates' change events)
    custom dates    filters + on_quality
    dropdown        filters                              (region, state, city, channel, segment)
    refresh         filters

(The browser may fire the dates' change event twice for one preset; that duplicate is not sent.)
The users run as asyncio tasks in a child process, so the load generator does not share the
server's GIL. It stops by itself: no new change after `seconds`, every request has a timeout,
the child has a hard deadline and is killed past it, `max_requests` caps the total.

Reported: requests (queue events) done, errors (every one printed; there must be none),
throughput, client-side latency p50/p95/p99 per request kind and per user action, the queue
wait and the handler's own duration as the server reports them, and the data time measured in
the server process (DashboardQueries.view with its cache, compute_view = the warehouse queries
on a cache miss).

    python -m benchmarks.bench_dashboard_load --facts 1000000 --users 10 --seconds 15
    python benchmarks/bench_dashboard_load.py --json bench-results/dashboard_load.json  # 10M, 50 users, 60 s
    python benchmarks/bench_dashboard_load.py --url postgresql://postgres@127.0.0.1/bap_bench_x  # reuse

Needs a PostgreSQL server where it may create a database (BAP_BENCH_PG_URL, else BAP_TEST_PG_URL,
else postgresql://postgres@127.0.0.1:5432/postgres). All traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

DEFAULT_MAX_REQUESTS = 200_000
REQUEST_TIMEOUT_S = 30.0  # one event, join to completion
CLIENT_GRACE_S = 45.0  # past `seconds`: in-flight actions finish (each bounded by REQUEST_TIMEOUT_S)
CLIENT_START_S = 60.0  # the child's start-up (imports, /config) before its clock starts

# What a person does next, with weights. Dropdown changes dominate; periods change less often.
ACTIONS: dict[str, float] = {
    "preset": 2.0,
    "dates": 1.0,
    "region": 2.0,
    "state": 2.0,
    "city": 1.5,
    "channel": 2.0,
    "segment": 1.5,
    "refresh": 0.5,
}
FILTER_FIELDS = ("preset", "start", "end", "region", "state", "city", "channel", "segment")
ELEM_IDS = {  # the dashboard's elem_id of each widget the users touch (ui/app.py)
    "preset": "f-preset",
    "start": "f-start",
    "end": "f-end",
    "region": "f-region",
    "state": "f-state",
    "city": "f-city",
    "channel": "f-channel",
    "segment": "f-segment",
    "refresh": "f-refresh",
    "kpis": "bap-kpis",
    "quarantine_day": "q-day",
}
DROPDOWNS = ("preset", "region", "state", "city", "channel", "segment")
KINDS = ("filters", "quality", "preset", "load")


# =============================================================================================
# The load generator (runs in a child process; needs only httpx)
# =============================================================================================


class ClientError(Exception):
    """A request that did not end in a successful, well-formed response."""


def _choices(props: dict[str, Any]) -> list[str]:
    out = []
    for choice in props.get("choices") or []:
        out.append(choice[1] if isinstance(choice, (list, tuple)) else choice)
    return [str(c) for c in out]


class App:
    """What a user needs to know about the served app, read from its /config."""

    def __init__(self, config: dict[str, Any]):
        if config.get("protocol") != "sse_v3":
            raise ClientError(f"unexpected Gradio protocol {config.get('protocol')!r} (expected sse_v3)")
        self.prefix = config.get("api_prefix", "/gradio_api")
        by_elem = {c["props"].get("elem_id"): c for c in config["components"] if c.get("props", {}).get("elem_id")}
        missing = [e for e in ELEM_IDS.values() if e not in by_elem]
        if missing:
            raise ClientError(f"the dashboard has no widgets {missing}")
        self.ids = {name: by_elem[elem]["id"] for name, elem in ELEM_IDS.items()}
        self.name_of = {cid: name for name, cid in self.ids.items()}
        self.options = {name: _choices(by_elem[ELEM_IDS[name]]["props"]) for name in DROPDOWNS}
        self.initial = {name: by_elem[ELEM_IDS[name]]["props"].get("value") for name in FILTER_FIELDS}
        deps = {d.get("api_name"): d for d in config["dependencies"]}
        self.deps = {}
        for kind, api_name in (
            ("filters", "filters"),
            ("load", "on_load"),
            ("preset", "on_preset"),
            ("quality", "on_quality"),
        ):
            if api_name not in deps:
                raise ClientError(f"the dashboard has no {api_name!r} event")
            self.deps[kind] = deps[api_name]
        self.load_trigger = next(t[0] for t in self.deps["load"]["targets"] if t[1] == "load")

    def inputs(self, kind: str, values: dict[str, Any]) -> list[Any]:
        return [values.get(self.name_of.get(cid, ""), None) for cid in self.deps[kind]["inputs"]]

    def outputs(self, kind: str, data: list[Any]) -> dict[str, Any]:
        """The response's values by widget name (only the widgets the users know)."""
        dep_out = self.deps[kind]["outputs"]
        if not isinstance(data, list) or len(data) != len(dep_out):
            raise ClientError(
                f"{kind}: {len(data) if isinstance(data, list) else type(data).__name__} outputs, "
                f"expected {len(dep_out)}"
            )
        return {self.name_of[cid]: value for cid, value in zip(dep_out, data, strict=False) if cid in self.name_of}


class Stats:
    def __init__(self, max_requests: int):
        self.max_requests = max_requests
        self.started = 0
        self.events: list[dict[str, Any]] = []
        self.actions: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []

    def claim(self, n: int) -> bool:
        if self.started + n > self.max_requests:
            return False
        self.started += n
        return True


class User:
    """One person in one browser tab: a session, the widgets' current values and choices."""

    def __init__(
        self,
        index: int,
        app: App,
        http: Any,
        stats: Stats,
        rng: random.Random,
        bounds: tuple[date, date],
        think: tuple[float, float],
    ):
        self.index = index
        self.app = app
        self.http = http
        self.stats = stats
        self.rng = rng
        self.bounds = bounds
        self.think = think
        self.session = uuid.uuid4().hex[:11]
        self.values: dict[str, Any] = dict(app.initial)
        self.values["quarantine_day"] = None
        self.choices: dict[str, list[str]] = {k: list(v) for k, v in app.options.items()}

    # -- the protocol ----------------------------------------------------------------------
    async def _events(self, calls: list[tuple[str, list[Any], int]]) -> list[dict[str, Any]]:
        """Send events at once (as the browser does for one change) and wait for all of them on
        the session's stream. Returns per event: kind, data, latency, queue wait, server duration."""
        prefix = self.app.prefix
        pending: dict[str, dict[str, Any]] = {}
        for kind, data, trigger in calls:
            sent = time.perf_counter()
            body = {
                "data": data,
                "fn_index": self.app.deps[kind]["id"],
                "trigger_id": trigger,
                "session_hash": self.session,
                "event_data": None,
            }
            r = await self.http.post(f"{prefix}/queue/join", json=body)
            if r.status_code != 200:
                raise ClientError(f"{kind}: queue/join HTTP {r.status_code}: {r.text[:300]}")
            pending[r.json()["event_id"]] = {"kind": kind, "sent": sent}
        done: dict[str, dict[str, Any]] = {}
        async with self.http.stream("GET", f"{prefix}/queue/data", params={"session_hash": self.session}) as st:
            if st.status_code != 200:
                raise ClientError(f"queue/data HTTP {st.status_code}: {(await st.aread())[:300]!r}")
            async for line in st.aiter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                kind_of = msg.get("msg")
                event = pending.get(msg.get("event_id") or "")
                if kind_of == "process_starts" and event is not None:
                    event["starts"] = time.perf_counter()
                elif kind_of == "process_completed" and event is not None:
                    now = time.perf_counter()
                    output = msg.get("output") or {}
                    if not msg.get("success"):
                        detail = output.get("error") or msg.get("title") or output
                        raise ClientError(f"{event['kind']}: the server reported an error: {detail}")
                    event.update(
                        latency_ms=(now - event["sent"]) * 1000,
                        queue_ms=((event.get("starts", now) - event["sent"]) * 1000),
                        server_ms=(output["duration"] * 1000)
                        if isinstance(output.get("duration"), (int, float))
                        else None,
                        bytes=len(line),
                        data=output.get("data"),
                    )
                    done[msg["event_id"]] = event
                elif kind_of == "unexpected_error":
                    raise ClientError(f"unexpected error from the server: {msg.get('message')}")
                elif kind_of == "close_stream":  # sent once no event of the session is pending;
                    break  # leaving earlier would let this stream's clean-up drop the session's next events
        if len(done) != len(pending):
            missing = sorted(e["kind"] for k, e in pending.items() if k not in done)
            raise ClientError(f"the event stream closed before {missing} completed")
        return [done[k] for k in pending]

    # -- reading responses -----------------------------------------------------------------
    def _apply(self, kind: str, data: list[Any]) -> None:
        out = self.app.outputs(kind, data)
        if kind in ("filters", "load"):
            kpis = out.get("kpis")
            if not isinstance(kpis, str) or 'data-kpi="txn_count"' not in kpis:
                raise ClientError(f"{kind}: the response has no KPI cards: {str(kpis)[:200]}")
        for name, value in out.items():
            if isinstance(value, dict):  # gr.update(...)
                if "choices" in value and name in self.choices:
                    self.choices[name] = _choices(value)
                if "value" in value:
                    self.values[name] = value["value"]
            elif name in FILTER_FIELDS:
                self.values[name] = value

    # -- a person ----------------------------------------------------------------------------
    async def act(self, action: str) -> int:
        """Do one thing, as the browser would send it; returns the events it took."""
        v, app, ids = self.values, self.app, self.app.ids
        changed_dates = [("filters", ids["start"]), ("quality", ids["start"])]
        if action == "load":
            return await self._send([("load", app.load_trigger), ("quality", app.load_trigger)])
        if action == "preset":
            options = [p for p in self.choices["preset"] if p != v.get("preset")] or self.choices["preset"]
            v["preset"] = self.rng.choice(options)
            before = (v.get("start"), v.get("end"))
            n = await self._send([("preset", ids["preset"])])
            if (v.get("start"), v.get("end")) == before:  # no new dates, no change events (e.g. "Custom")
                return n
            return n + await self._send(changed_dates)
        if action == "dates":
            first, last = self.bounds
            length = self.rng.choice([7, 14, 30, 45, 60, 90, 180, 365])
            end = last - timedelta(days=self.rng.randint(0, max(0, (last - first).days - length)))
            start = max(first, end - timedelta(days=length - 1))
            v["start"], v["end"] = f"{start:%Y-%m-%d}", f"{end:%Y-%m-%d}"
            return await self._send(changed_dates)
        if action == "refresh":
            return await self._send([("filters", ids["refresh"])])
        options = [c for c in self.choices[action] if c != v.get(action)] or self.choices[action]
        v[action] = self.rng.choice(options)  # a dropdown: another value from its current choices
        return await self._send([("filters", ids[action])])

    async def _send(self, calls: list[tuple[str, int]]) -> int:
        """Send the events of one change with the widgets' current values, apply their outputs,
        record their times."""
        events = await self._events([(kind, self.app.inputs(kind, self.values), trigger) for kind, trigger in calls])
        for event in events:
            self._apply(event["kind"], event.pop("data"))
            self.stats.events.append({k: event[k] for k in ("kind", "latency_ms", "queue_ms", "server_ms", "bytes")})
        return len(events)

    async def run(self, began: float, deadline: float) -> None:
        """Load the page, then change filters until the deadline (or the request budget) is reached."""
        loop = asyncio.get_running_loop()
        names, weights = list(ACTIONS), list(ACTIONS.values())
        action = "load"
        while loop.time() < deadline and self.stats.claim(3):
            t0 = time.perf_counter()
            try:
                n = await self.act(action)
            except Exception as exc:
                self.stats.errors.append(
                    {
                        "user": self.index,
                        "action": action,
                        "error": f"{type(exc).__name__}: {exc}"[:500],
                        "at_s": round(loop.time() - began, 2),
                    }
                )
                self.session = uuid.uuid4().hex[:11]  # a person reloads the page
                action = "load"
            else:
                self.stats.actions.append(
                    {"action": action, "events": n, "latency_ms": (time.perf_counter() - t0) * 1000}
                )
                action = self.rng.choices(names, weights)[0]
            pause = self.rng.uniform(*self.think)
            if loop.time() + pause >= deadline:
                return
            await asyncio.sleep(pause)


async def _discover_bounds(app: App, http: Any) -> tuple[date, date]:
    """First and last loaded day, as a person sees them: the dates of the "All time" preset."""
    probe = User(-1, app, http, Stats(10), random.Random(0), (date.today(), date.today()), (0, 0))
    all_time = next((p for p in app.options["preset"] if p.lower().startswith("all")), None)
    if all_time is None:
        raise ClientError(f"no 'All time' period among {app.options['preset']}")
    probe.values["preset"] = all_time
    [event] = await probe._events([("preset", app.inputs("preset", probe.values), app.ids["preset"])])
    probe._apply("preset", event["data"])
    return date.fromisoformat(str(probe.values["start"])[:10]), date.fromisoformat(str(probe.values["end"])[:10])


async def drive(
    url: str,
    users: int,
    seconds: float,
    *,
    think: tuple[float, float] = (0.5, 2.0),
    max_requests: int = DEFAULT_MAX_REQUESTS,
    seed: int = 11,
    request_timeout: float = REQUEST_TIMEOUT_S,
) -> dict[str, Any]:
    """Run the users against the dashboard at `url`; the raw measurements."""
    import httpx

    if not url.startswith(("http://127.", "http://localhost", "http://[::1]")):
        raise ValueError(f"the load goes to the local machine only, not {url}")
    limits = httpx.Limits(max_connections=users * 2 + 10, max_keepalive_connections=users * 2 + 10)
    async with httpx.AsyncClient(
        base_url=url, timeout=httpx.Timeout(request_timeout), limits=limits, trust_env=False
    ) as http:
        config = (await http.get("/config")).raise_for_status().json()
        app = App(config)
        bounds = await _discover_bounds(app, http)
        stats = Stats(max_requests)
        loop = asyncio.get_running_loop()
        began = loop.time()
        deadline = began + seconds
        crowd = [User(i, app, http, stats, random.Random(seed * 7919 + i), bounds, think) for i in range(users)]
        tasks = [asyncio.create_task(u.run(began, deadline)) for u in crowd]
        done, late = await asyncio.wait(tasks, timeout=seconds + CLIENT_GRACE_S)
        for task in late:
            task.cancel()
        for task in done:
            if task.exception() is not None:
                stats.errors.append({"user": None, "action": "run", "error": repr(task.exception())[:500]})
        if late:
            stats.errors.append(
                {
                    "user": None,
                    "action": "run",
                    "error": f"{len(late)} users still busy {CLIENT_GRACE_S:.0f} s after the end: cancelled",
                }
            )
        elapsed = loop.time() - began
    return {
        "elapsed_s": elapsed,
        "events": stats.events,
        "actions": stats.actions,
        "errors": stats.errors,
        "bounds": [str(bounds[0]), str(bounds[1])],
        "options": app.options,
        "capped": stats.started >= max_requests,
        "client_cpu_s": time.process_time(),
    }


def _client_entry() -> None:
    """The child process: parameters as JSON on stdin, measurements as JSON on stdout."""
    params = json.loads(sys.stdin.read())
    result = asyncio.run(
        drive(
            params["url"],
            params["users"],
            params["seconds"],
            think=tuple(params["think"]),
            max_requests=params["max_requests"],
            seed=params["seed"],
        )
    )
    sys.stdout.write(json.dumps(result))
    sys.stdout.flush()


# =============================================================================================
# The figures
# =============================================================================================


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def summarise(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    return {
        "n": len(values),
        "p50": round(_pct(values, 0.50), 1),
        "p95": round(_pct(values, 0.95), 1),
        "p99": round(_pct(values, 0.99), 1),
        "max": round(max(values), 1),
        "mean": round(sum(values) / len(values), 1),
    }


class DataTimer:
    """Times DashboardQueries.view (cache included) and compute_view (the warehouse, on a miss)
    inside the server process, by wrapping the two methods of the served instance."""

    def __init__(self, queries: Any):
        self.queries = queries
        self.lock = threading.Lock()
        self.view_ms: list[float] = []
        self.compute_ms: list[float] = []
        queries.view = self._wrap(type(queries).view.__get__(queries), self.view_ms)
        queries.compute_view = self._wrap(type(queries).compute_view.__get__(queries), self.compute_ms)

    def _wrap(self, fn: Callable[..., Any], sink: list[float]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = (time.perf_counter() - began) * 1000
                with self.lock:
                    sink.append(elapsed)

        return timed

    def reset(self) -> None:
        with self.lock:
            self.view_ms.clear()
            self.compute_ms.clear()

    def figures(self) -> dict[str, Any]:
        with self.lock:
            views, computes = list(self.view_ms), list(self.compute_ms)
        return {
            "view_ms": summarise(views),
            "warehouse_ms": summarise(computes),
            "cache_hit_ratio": round(1 - len(computes) / len(views), 3) if views else None,
        }


class CpuMeter:
    """Where the machine's CPU went while the load generator ran (its start-up included): the
    server process (the dashboard, all its threads), the load generator, and the machine as a
    whole (PostgreSQL, and anyone else on a shared machine)."""

    def __init__(self) -> None:
        import psutil

        self._me = psutil.Process()
        self._own = self._me.cpu_times()
        self._machine = psutil.cpu_times()
        self._wall = time.perf_counter()
        self._load = os.getloadavg()

    def figures(self, client_cpu_s: float) -> dict[str, Any]:
        import psutil

        own, machine = self._me.cpu_times(), psutil.cpu_times()
        wall = time.perf_counter() - self._wall
        total = sum(machine) - sum(self._machine)
        idle = (machine.idle - self._machine.idle) + (
            getattr(machine, "iowait", 0.0) - getattr(self._machine, "iowait", 0.0)
        )
        server_s = (own.user - self._own.user) + (own.system - self._own.system)
        return {
            "wall_s": round(wall, 1),
            "server_process_cpu_s": round(server_s, 1),
            "server_process_cores": round(server_s / wall, 2) if wall else None,
            "client_process_cpu_s": round(client_cpu_s, 1),
            "machine_busy_pct": round(100 * (1 - idle / total), 1) if total else None,
            "cores": os.cpu_count(),
            "loadavg_before": [round(x, 2) for x in self._load],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        }


def figures(
    raw: dict[str, Any], data: dict[str, Any], *, users: int, seconds: float, think: tuple[float, float]
) -> dict[str, Any]:
    events, actions, errors = raw["events"], raw["actions"], raw["errors"]
    elapsed = raw["elapsed_s"]
    every = summarise([e["latency_ms"] for e in events])
    result: dict[str, Any] = {
        "users": users,
        "seconds": seconds,
        "think_s": list(think),
        "elapsed_s": round(elapsed, 2),
        "requests": len(events),
        "errors": len(errors),
        "error_samples": errors[:50],
        "throughput_rps": round(len(events) / elapsed, 1) if elapsed else None,
        "actions": len(actions),
        "actions_per_s": round(len(actions) / elapsed, 1) if elapsed else None,
        "p50_ms": every["p50"],
        "p95_ms": every["p95"],
        "p99_ms": every["p99"],
        "latency_ms": {"all": every},
        "action_latency_ms": summarise([a["latency_ms"] for a in actions]),
        "queue_wait_ms": summarise([e["queue_ms"] for e in events]),
        "server_handler_ms": {"all": summarise([e["server_ms"] for e in events if e["server_ms"] is not None])},
        "server_data": data,
        "response_kb_mean": round(sum(e["bytes"] for e in events) / len(events) / 1024, 1) if events else None,
        "requests_capped": raw["capped"],
        "cpu": raw.get("cpu"),
        "bounds": raw["bounds"],
    }
    for kind in KINDS:
        mine = [e for e in events if e["kind"] == kind]
        result["latency_ms"][kind] = summarise([e["latency_ms"] for e in mine])
        result["server_handler_ms"][kind] = summarise([e["server_ms"] for e in mine if e["server_ms"] is not None])
    result["requests_by_kind"] = {k: result["latency_ms"][k]["n"] for k in KINDS}
    result["actions_by_kind"] = {a: sum(1 for x in actions if x["action"] == a) for a in ["load", *ACTIONS]}
    return result


def _print_report(result: dict[str, Any]) -> None:
    facts = result.get("facts")
    print(
        f"\nDashboard under load: {result['users']} users x {result['seconds']:g} s"
        f"{f', {facts:,} facts' if isinstance(facts, int) else ''}, think "
        f"{result['think_s'][0]:g}-{result['think_s'][1]:g} s, over HTTP (sse_v3 queue) on 127.0.0.1"
    )
    by_kind = ", ".join(f"{k} {n:,}" for k, n in result["requests_by_kind"].items())
    print(
        f"requests {result['requests']:,} ({by_kind}) in {result['elapsed_s']:.1f} s: "
        f"{result['throughput_rps']} req/s; user actions {result['actions']:,} ({result['actions_per_s']}/s); "
        f"errors {result['errors']}"
    )
    print(f"\n{'client-side latency (ms)':<34} {'n':>7} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}")
    rows = [("every request", result["latency_ms"]["all"])]
    rows += [(f"  {k}", result["latency_ms"][k]) for k in KINDS]
    rows += [
        ("user action (all its events)", result["action_latency_ms"]),
        ("server: queue wait", result["queue_wait_ms"]),
        ("server: handler (every request)", result["server_handler_ms"]["all"]),
        ("server: handler (filters)", result["server_handler_ms"]["filters"]),
        ("server: data, view() incl. cache", result["server_data"]["view_ms"]),
        ("server: data, cache miss (SQL)", result["server_data"]["warehouse_ms"]),
    ]
    for name, s in rows:
        if s["n"]:
            print(f"{name:<34} {s['n']:>7,} {s['p50']:>8.1f} {s['p95']:>8.1f} {s['p99']:>8.1f} {s['max']:>8.1f}")
        else:
            print(f"{name:<34} {0:>7}")
    hit = result["server_data"]["cache_hit_ratio"]
    print(f"view cache hits {hit:.0%}" if hit is not None else "view cache: no views", end="")
    print(f"; mean response {result['response_kb_mean']} KiB")
    cpu = result.get("cpu")
    if cpu:
        print(
            f"CPU over {cpu['wall_s']} s: dashboard process {cpu['server_process_cores']} cores, load generator "
            f"{cpu['client_process_cpu_s']} s, machine {cpu['machine_busy_pct']}% busy of {cpu['cores']} cores "
            f"(load average before {cpu['loadavg_before'][0]}, after {cpu['loadavg_after'][0]})"
        )
    if result["errors"]:
        print(f"\n{result['errors']} ERRORS:")
        for e in result["error_samples"]:
            print(f"  user {e.get('user')} {e.get('action')}: {e.get('error')}")
    print(f"\np95 {result['p95_ms']} ms over {result['requests']:,} requests, {result['errors']} errors")


# =============================================================================================
# The benchmark
# =============================================================================================


def _serve_settings(url: str, settings: Any, data_dir: Path) -> Any:
    from pydantic import SecretStr

    from flows.settings import Settings

    update = {
        "warehouse_url": SecretStr(url),
        "dashboard_warehouse_url": None,
        "dashboard_auth": None,
        "dashboard_host": "127.0.0.1",
        "data_dir": str(data_dir),
    }
    if settings is not None:
        return settings.model_copy(update=update)
    return Settings(dashboard_refresh_s=600, **update)


def run_load(
    url: str,
    *,
    users: int,
    seconds: float,
    think: tuple[float, float],
    max_requests: int,
    seed: int,
    settings: Any = None,
) -> dict[str, Any]:
    """Serve the dashboard on the warehouse at `url`, drive it, close it; the figures."""
    from ui.app import serve

    with tempfile.TemporaryDirectory(prefix="bap-load-") as tmp:
        server = serve(
            _serve_settings(url, settings, Path(tmp) / "data"),
            host="127.0.0.1",
            port=0,
            data_docs_dir=Path(tmp) / "data_docs",
            block=False,
        )
        try:
            timer = DataTimer(server.queries)
            params = {
                "url": server.url,
                "users": users,
                "seconds": seconds,
                "think": list(think),
                "max_requests": max_requests,
                "seed": seed,
            }
            cpu = CpuMeter()
            hard = seconds + CLIENT_GRACE_S + CLIENT_START_S
            proc = subprocess.Popen(
                [sys.executable, "-c", "from benchmarks.bench_dashboard_load import _client_entry; _client_entry()"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env={**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"},
            )
            try:
                out, _ = proc.communicate(json.dumps(params), timeout=hard)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                raise RuntimeError(f"the load generator did not finish within {hard:.0f} s: killed") from None
            if proc.returncode != 0:
                raise RuntimeError(f"the load generator failed (exit {proc.returncode}); see its output above")
            raw = json.loads(out)
            data = timer.figures()
            raw["cpu"] = cpu.figures(raw.pop("client_cpu_s"))
        finally:
            server.close()
    return figures(raw, data, users=users, seconds=seconds, think=think)


def main(
    facts: int = 10_000_000,
    users: int = 50,
    seconds: float = 60,
    json_path: str | Path | None = None,
    settings: Any = None,
    *,
    url: str | None = None,
    days: int = 730,
    think: tuple[float, float] = (0.5, 2.0),
    max_requests: int = DEFAULT_MAX_REQUESTS,
    seed: int = 11,
    admin_url: str | None = None,
) -> dict[str, Any]:
    """Build (or reuse `url`), serve, load, print the report and return the figures (ms).

    The throwaway database lives on `admin_url`'s server, else on the server of `settings`'
    warehouse, else BAP_BENCH_PG_URL / BAP_TEST_PG_URL / localhost; it is dropped afterwards.
    `url`: an existing warehouse built by bench_dashboard.build_warehouse (left as it is)."""
    from sqlalchemy.engine import make_url

    from benchmarks.bench_dashboard import DEFAULT_ADMIN_URL, build_warehouse, throwaway_database
    from benchmarks.common import machine

    if users < 1 or seconds <= 0 or max_requests < 1 or think[0] < 0 or think[1] < think[0]:
        raise ValueError("users >= 1, seconds > 0, max_requests >= 1 and 0 <= think min <= think max")
    if admin_url is None and settings is not None and url is None:
        from flows.warehouse.connection import resolve_url

        admin_url = make_url(resolve_url(settings)).set(database="postgres").render_as_string(hide_password=False)
    admin_url = (
        admin_url or os.environ.get("BAP_BENCH_PG_URL") or os.environ.get("BAP_TEST_PG_URL") or DEFAULT_ADMIN_URL
    )

    def run(warehouse: str, built: dict[str, Any]) -> dict[str, Any]:
        import sqlalchemy as sa

        engine = sa.create_engine(warehouse, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                n_facts = conn.exec_driver_sql("SELECT count(*) FROM fact_transactions").scalar()
                n_days = conn.exec_driver_sql("SELECT count(*) FROM load_audit").scalar()
        finally:
            engine.dispose()
        print(f"{users} users for {seconds:g} s against {n_facts:,} facts ...", file=sys.stderr)
        result = run_load(
            warehouse,
            users=users,
            seconds=seconds,
            think=think,
            max_requests=max_requests,
            seed=seed,
            settings=settings,
        )
        return {"facts": n_facts, "days": n_days, **result, "build": built}

    if url:
        result = run(url, {})
        result["warehouse"] = "reused"
    else:
        with throwaway_database(admin_url) as warehouse:
            print(f"building {facts:,} facts over {days} days ...", file=sys.stderr)
            built = build_warehouse(warehouse, facts=facts, days=days, progress=True)
            built["first_day"], built["last_day"] = str(built["first_day"]), str(built["last_day"])
            result = run(warehouse, built)
        result["warehouse"] = f"throwaway database {make_url(warehouse).database} (dropped)"
        result["database"] = make_url(warehouse).database
    result["machine"] = machine()
    _print_report(result)
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(result, indent=2, default=str) + "\n")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facts", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument(
        "--think",
        type=float,
        nargs=2,
        metavar=("MIN", "MAX"),
        default=(0.5, 2.0),
        help="pause between a user's changes, seconds (0 0: back to back)",
    )
    parser.add_argument("--max-requests", type=int, default=DEFAULT_MAX_REQUESTS)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--url", default=None, help="reuse this warehouse (built by bench_dashboard) instead of building"
    )
    parser.add_argument("--json", dest="json_path", default=None)
    args = parser.parse_args()
    figures_ = main(
        args.facts,
        args.users,
        args.seconds,
        args.json_path,
        url=args.url,
        days=args.days,
        think=tuple(args.think),
        max_requests=args.max_requests,
        seed=args.seed,
    )
    sys.exit(1 if figures_["errors"] else 0)
