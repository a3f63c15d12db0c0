"""The floor the dashboard is measured against: a minimal Gradio Blocks app with five Plotly charts.

Its `/filters` endpoint takes the dashboard's eight filter values and returns five ready-made
Plotly figures (built once, at start) without any data work, so what it costs is Gradio's own
cost: the queue, the serialisation of five figures, the HTTP and the browser's drawing. It is
served the way the dashboard is (FastAPI + `gr.mount_gradio_app` under uvicorn), and the load,
first-paint and start benchmarks (benchmarks/bench_dashboard_load.py) run it in the same run.

    python -m benchmarks.baseline_app --port 7861      # serve it (Ctrl-C stops)
"""

from __future__ import annotations

import argparse
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Final

import gradio as gr
import numpy as np
import plotly.graph_objects as go

ELEM_IDS: Final[tuple[str, ...]] = (
    "chart-trend-revenue",
    "chart-trend-failure",
    "chart-trend-processing",
    "chart-compare-failure",
    "chart-compare-processing",
)
FILTERS: Final[tuple[str, ...]] = ("preset", "start", "end", "region", "state", "city", "channel", "segment")


def ready_made_figures(days: int = 30, series: int = 4, seed: int = 3) -> list[go.Figure]:
    """Three trend charts (a daily and a 7-day line per series) and two bar charts, about the size
    of the dashboard's own for a 30-day view."""
    rng = np.random.default_rng(seed)
    x = [f"2024-03-{d:02d}" for d in range(1, days + 1)]
    figures = []
    for title in ("Revenue per day", "Failure rate per day", "Avg processing time per day"):
        fig = go.Figure(layout={"title": {"text": title}, "height": 340, "hovermode": "x unified"})
        for s in range(series):
            y = rng.random(days).round(4)
            fig.add_scatter(x=x, y=y, name=f"series {s} · daily", opacity=0.3, showlegend=False)
            fig.add_scatter(x=x, y=np.convolve(y, np.ones(7) / 7, mode="same").round(4), name=f"series {s}")
        figures.append(fig)
    for title in ("Failure rate by channel", "Avg processing time by channel"):
        items = ["UPI", "Credit Card", "Debit Card", "Net Banking", "Wallet", "Cheque"]
        figures.append(go.Figure(go.Bar(x=items, y=rng.random(6).round(4)), layout={"title": {"text": title}}))
    return figures


def build_baseline() -> gr.Blocks:
    """Five charts, the dashboard's filter inputs, a page-load event and a `/filters` endpoint."""
    figures = ready_made_figures()

    def five(*_filters: Any) -> list[go.Figure]:
        return figures

    with gr.Blocks(title="baseline: five Plotly charts") as demo:
        inputs = [gr.Textbox(value="", label=name, elem_id=f"f-{name}") for name in FILTERS]
        charts = [gr.Plot(show_label=False, elem_id=elem_id) for elem_id in ELEM_IDS]
        demo.load(five, inputs, charts, api_visibility="private", show_progress="hidden")
        gr.on([inputs[3].input], five, inputs, charts, api_name="filters", show_progress="minimal")
    demo.queue(default_concurrency_limit=8)
    return demo


@dataclass
class BaselineServer:
    url: str
    server: Any
    thread: threading.Thread | None

    def close(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout)


def serve_baseline(port: int = 0, *, block: bool = False) -> BaselineServer:
    """Serve the baseline on 127.0.0.1 like ui.app.serve serves the dashboard."""
    import uvicorn
    from fastapi import FastAPI

    app = gr.mount_gradio_app(FastAPI(docs_url=None, redoc_url=None, openapi_url=None), build_baseline(), path="/")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=3)
    server = uvicorn.Server(config)
    handle = BaselineServer(f"http://127.0.0.1:{sock.getsockname()[1]}", server, None)
    if block:
        print(f"Baseline: {handle.url}  Ctrl-C to stop", flush=True)
        server.run(sockets=[sock])
        return handle
    handle.thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    handle.thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the baseline app did not start")
        time.sleep(0.05)
    return handle


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=7861)
    serve_baseline(parser.parse_args().port, block=True)
