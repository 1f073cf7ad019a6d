"""Live training views: a loss plot and a progress line, both training callbacks that redraw by wall clock.

Three plot backends, because of what was measured in JupyterLab 4.6 (design.md, principle 3):
- "output": an ipywidgets `Output` whose `outputs` is replaced by the figure's plotly mimebundle
  at each redraw. It is synced *state*, so a page that renders the output late (or misses a
  message) still draws the latest figure. The interactive panel uses it: training runs in a
  background thread, and the FigureWidget below lost its updates there in 2 of 6 browser runs
  (the plot stayed empty while the progress line moved; its updates are transient messages, and
  plotly's 5 MB widget module may still be loading when the first ones arrive).
- "widget": a plotly `FigureWidget` updated inside `batch_update()` (one message per redraw, the
  plot updated in place rather than re-created). Kept for code that wants the figure object.
- "display": a display handle updated with a fresh static figure. Works in the foreground only
  (a running cell, papermill), where it is what executed notebooks keep.
All redraw at most every `min_interval` seconds, cap the points sent, always flush at the end,
and `close()` leaves a static `go.Figure` (a saved FigureWidget would add ~5 MB of widget state).
"""

from __future__ import annotations

import html
import time
from typing import Any

from ..plots import loss_figure, loss_traces, step_axis
from ..training.events import Callback, TrainState


class _Throttled(Callback):
    """Calls `redraw()` at most every `min_interval` seconds, and always at the end."""

    def __init__(self, min_interval: float = 0.5):
        self.min_interval = min_interval
        self._last = float("-inf")  # the first event always draws
        self.redraws = 0

    def _maybe_redraw(self, state: TrainState, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last >= self.min_interval:
            self._last = now
            self.redraws += 1
            self.redraw(state)

    def redraw(self, state: TrainState) -> None:
        raise NotImplementedError

    def on_train_end(self, state: TrainState) -> None:
        self._maybe_redraw(state, force=True)


class LiveLossPlot(_Throttled):
    """Train loss (raw + smoothed), eval loss and learning rate, redrawn while training runs."""

    def __init__(
        self,
        *,
        backend: str = "display",
        min_interval: float = 0.5,
        title: str = "Training loss",
        max_points: int = 500,
        history: list[dict[str, Any]] | None = None,
    ):
        super().__init__(min_interval)
        if backend not in ("display", "widget", "output"):
            raise ValueError(f"backend must be 'display', 'widget' or 'output', got {backend!r}")
        self.backend, self.title, self.max_points = backend, title, max_points
        self.records: list[dict[str, Any]] = list(history or [])
        self.widget: Any = None  # the FigureWidget ("widget")
        self.output: Any = None  # the ipywidgets Output ("output")
        self._handle: Any = None
        self.max_steps = 0  # the x axis spans the whole run from the start

    # -- the view ---------------------------------------------------------------------------------
    def show(self) -> Any:
        """Put the (empty) plot on the page; returns the Output, the FigureWidget or the display handle."""
        if self.backend == "output":
            import ipywidgets as w

            self.output = w.Output()
            show_figure(self.output, self.figure())
            return self.output
        if self.backend == "widget":
            import plotly.graph_objects as go

            self.widget = go.FigureWidget(self.figure())
            return self.widget
        from IPython.display import display

        self._handle = display(self.figure(), display_id=True)
        return self._handle

    def figure(self) -> Any:
        """The current state as a static go.Figure."""
        return loss_figure(
            self.records, title=self.title, max_points=self.max_points, max_steps=self.max_steps
        )

    def redraw(self, state: TrainState) -> None:
        self.max_steps = max(self.max_steps, state.max_steps)
        if self.widget is not None:
            traces = loss_traces(self.records, max_points=self.max_points)
            last = max((r.get("step", 0) for r in self.records), default=0)
            with self.widget.batch_update():  # one comm message for all changes
                for trace, new in zip(self.widget.data, traces, strict=True):
                    trace.x, trace.y = new["x"], new["y"]
                    if "showlegend" in new:
                        trace.showlegend = new["showlegend"]
                self.widget.layout.xaxis.update(step_axis(max(last, self.max_steps)))
        elif self.output is not None:
            show_figure(self.output, self.figure())
        elif self._handle is not None:
            self._handle.update(self.figure())

    def close(self) -> Any:
        """Stop live updates; return the static figure (the widget is closed, its state dropped;
        an Output keeps showing the figure)."""
        fig = self.figure()
        if self.widget is not None:
            self.widget.close()
            self.widget = None
        elif self.output is not None:
            show_figure(self.output, fig)
        elif self._handle is not None:
            self._handle.update(fig)
        return fig

    # -- events -----------------------------------------------------------------------------------
    def on_train_begin(self, state: TrainState) -> None:
        self._maybe_redraw(state, force=True)  # the axis spans 0..max_steps before the first point

    def on_log(self, state: TrainState, logs: dict[str, float]) -> None:
        self.records.append({"kind": "train", "step": state.step, **logs})
        self._maybe_redraw(state)

    def on_evaluate(self, state: TrainState, metrics: dict[str, float]) -> None:
        self.records.append({"kind": "eval", "step": state.step, **metrics})
        self._maybe_redraw(state, force=True)  # evaluations are rare and worth showing at once


def show_figure(output: Any, fig: Any) -> None:
    """Make `fig` the whole content of an ipywidgets Output: one state change, from any thread
    (an Output's context manager and `display` capture only in the thread running the cell)."""
    import plotly.io as pio

    bundle = pio.renderers["plotly_mimetype"].to_mimebundle(fig.to_dict())
    output.outputs = ({"output_type": "display_data", "data": bundle, "metadata": {}},)


class ProgressLine(_Throttled):
    """Step x / N, tokens/s and ETA, as an ipywidgets bar ("widget") or an HTML line ("display").

    Time spent evaluating is left out of tok/s and the ETA (an evaluation is not a training step),
    and so is answering the sample prompts after it (`samples=True`: the run has
    `sample_prompts`); what runs between steps (the initial evaluation, the sample answers, the
    final evaluation after a stop) is said in words.
    """

    def __init__(
        self,
        *,
        backend: str = "display",
        min_interval: float = 0.5,
        eval_first: bool = False,
        samples: bool = False,
    ):
        super().__init__(min_interval)
        self.backend, self.eval_first, self.samples = backend, eval_first, samples
        self.bar: Any = None
        self.label: Any = None
        self._handle: Any = None
        self._first_step = 0
        self._first_tokens = 0
        self._eval_s = 0.0  # seconds spent in evaluations so far
        self._last_event = time.monotonic()
        self.note = ""
        self.text = ""

    def show(self) -> Any:
        if self.backend == "widget":
            import ipywidgets as w

            self.bar = w.IntProgress(value=0, min=0, max=1, description="step")
            self.label = w.HTML("loading the model and the data&hellip;")
            return w.HBox([self.bar, self.label], layout=w.Layout(flex_flow="row wrap"))
        from IPython.display import HTML, display

        self._handle = display(
            HTML("<code>loading the model and the data…</code>"), display_id=True
        )
        return self._handle

    def on_train_begin(self, state: TrainState) -> None:
        self._first_step, self._first_tokens = state.step, state.tokens_seen
        self._started = self._last_event = time.monotonic()
        if self.eval_first and state.step == 0:
            self.note = "evaluating the base model first (the eval loss the curve starts from)…"
        self._maybe_redraw(state, force=True)

    def on_step_end(self, state: TrainState) -> None:
        self._last_event = time.monotonic()
        self.note = ""
        if state.stop_requested or (state.max_steps and state.step >= state.max_steps):
            self.note = "saving the checkpoint and measuring the final eval loss…"
        self._maybe_redraw(state, force=bool(self.note))

    def on_evaluate(self, state: TrainState, metrics: dict[str, float]) -> None:
        now = time.monotonic()
        self._eval_s += now - self._last_event  # the evaluation ran since the last event
        self._last_event = now
        self.note = "answering the sample prompts…" if self.samples else ""
        self._maybe_redraw(state, force=True)

    def on_samples(self, state: TrainState, answers: list[Any]) -> None:
        now = time.monotonic()
        self._eval_s += now - self._last_event  # generating them is evaluation time too
        self._last_event, self.note = now, ""
        self._maybe_redraw(state, force=True)

    def on_train_end(self, state: TrainState) -> None:
        self.note = ""
        self._maybe_redraw(state, force=True)

    def redraw(self, state: TrainState) -> None:
        self.text = describe_progress(
            state,
            self._first_step,
            self._first_tokens,
            getattr(self, "_started", None),
            eval_s=self._eval_s,
        )
        if self.note and state.status in ("running", ""):
            self.text += f" · {self.note}"
        if self.bar is not None:
            self.bar.max, self.bar.value = max(state.max_steps, 1), state.step
            self.label.value = html.escape(self.text)
        elif self._handle is not None:
            from IPython.display import HTML

            self._handle.update(HTML(f"<code>{html.escape(self.text)}</code>"))


def describe_progress(
    state: TrainState,
    first_step: int = 0,
    first_tokens: int = 0,
    started: float | None = None,
    *,
    eval_s: float = 0.0,
) -> str:
    """ "step 40/200 · 312 tok/s · ETA 2m10s": rates over this session (a resume is not skewed) and
    over training time only (`eval_s`, the seconds spent evaluating, left out)."""
    elapsed = time.monotonic() - (started if started is not None else state.started_at)
    training = max(elapsed - eval_s, 0.0)
    done = state.step - first_step
    rate = (state.tokens_seen - first_tokens) / training if training > 0 else 0.0
    parts = [f"step {state.step}/{state.max_steps or '?'}", f"{rate:,.0f} tok/s"]
    if state.status not in ("running", ""):  # finished, stopped, diverged: no time left to predict
        return " · ".join([*parts, f"{state.status} after {_duration(elapsed)}"])
    if done > 0 and state.max_steps:
        parts.append(f"ETA {_duration(training / done * (state.max_steps - state.step))}")
    return " · ".join(parts)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
