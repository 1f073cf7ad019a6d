"""The notebook-03 training panel: Find LR / Train / Stop / Export-script buttons, live loss plot, progress, sample answers.

Training runs in a background thread (the kernel ignores clicks while a cell runs), so Stop works.
The panel holds no logic: Train calls `workbench.training.engine`, Stop sets a `StopFlag`, Export calls
`workbench.training.scaleout.export_script`, Find LR calls `workbench.training.lr_finder.find_lr`
(in the background too) and sets the panel's learning rate to its suggestion. The live plot is an ipywidgets Output redrawn with the
whole figure (widget state, so it survives a page that renders late; ui/live.py says why); at the
end it keeps the final static figure.
"""

from __future__ import annotations

import html
import logging
import signal
import threading
from typing import Any

import ipywidgets as w

from ..config import TrainConfig
from ..rundir import RunDir
from ..training.events import Callback, StopFlag, TrainState, read_jsonl
from .live import LiveLossPlot, ProgressLine, show_figure
from .samples import SampleAnswersView

log = logging.getLogger(__name__)


class TrainPanel:
    """`TrainPanel(cfg).widget` to display; `.result` after training; `.thread` while it runs."""

    def __init__(self, cfg: TrainConfig, *, resume: bool | str = "auto", min_interval: float = 0.5):
        self.cfg, self.resume, self.min_interval = cfg, resume, min_interval
        # plotly.io imports for seconds (nbformat -> jsonschema's grammars): pay that while this
        # cell runs, not between the Train click and its feedback
        import plotly.io  # noqa: F401

        self.result: Any = None
        self.thread: threading.Thread | None = None
        self.stop_flag = StopFlag()
        self.train_button = w.Button(description="Train", button_style="success", icon="play")
        self.stop_button = w.Button(
            description="Stop", button_style="danger", icon="stop", disabled=True
        )
        self.export_button = w.Button(description="Export script", icon="share-square")
        self.find_button = w.Button(
            description="Find LR",
            icon="search",
            tooltip="LR range test on a few real batches; sets the learning rate to its suggestion",
        )
        self.lr_box = w.VBox([])  # the range test's plot and reason
        self.lr_found: Any = None  # the LRFinderResult, once Find LR has run
        self.status = w.HTML(
            f"Ready: {html.escape(cfg.technique)} on {html.escape(cfg.model)}, run dir {html.escape(cfg.run_dir)}"
        )
        self.plot_box = w.VBox([])
        self.progress_box = w.VBox([])
        self.samples_box = w.VBox([])  # cfg.sample_prompts: the answers under the plot
        self.samples: SampleAnswersView | None = None
        self.log = w.Output()
        self.train_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        self.export_button.on_click(lambda _: self.export())
        self.find_button.on_click(lambda _: self.find_lr())
        buttons = w.HBox(
            [self.find_button, self.train_button, self.stop_button, self.export_button]
        )
        parts = [
            buttons,
            self.status,
            self.lr_box,
            self.progress_box,
            self.plot_box,
            self.samples_box,
            self.log,
        ]
        self.widget = w.VBox(parts)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    # -- actions ----------------------------------------------------------------------------------
    def start(self) -> threading.Thread | None:
        if self.thread is not None and self.thread.is_alive():
            return None
        self.stop_flag.clear()
        self.train_button.disabled = self.find_button.disabled = True
        self.status.value = "Starting&hellip;"
        self.progress = ProgressLine(
            backend="widget",
            min_interval=self.min_interval,
            eval_first=self.cfg.eval_at_start,
            samples=bool(self.cfg.sample_prompts),
        )
        self.progress_box.children = (self.progress.show(),)  # progress at once, before the plot
        self.plot = LiveLossPlot(  # "output": redrawn as widget state, reliable from a thread
            backend="output",
            min_interval=self.min_interval,
            history=_previous_history(self.cfg, self.resume),
        )
        self.plot_box.children = (self.plot.show(),)
        if self.cfg.sample_prompts:
            self.samples = SampleAnswersView(backend="widget")
            self.samples_box.children = (self.samples.show(),)
        self.train_button.disabled, self.stop_button.disabled = True, False
        self.status.value = (
            "Training&hellip; (Stop saves a checkpoint; Train again resumes from it)"
        )
        self.thread = threading.Thread(target=self._train, name="workbench-train", daemon=True)
        self.thread.start()
        self._stop_on_interrupt()
        return self.thread

    def _stop_on_interrupt(self) -> None:
        """Kernel > Interrupt stops the background run too (then behaves as before)."""
        if threading.current_thread() is not threading.main_thread():
            return
        previous = signal.getsignal(signal.SIGINT)

        def handler(signum: int, frame: Any) -> None:
            if self.thread is not None and self.thread.is_alive():
                self.stop()
            if callable(previous):
                previous(signum, frame)

        signal.signal(signal.SIGINT, handler)

    def find_lr(self) -> threading.Thread | None:
        """The LR range test in the background; its plot and reason under the buttons, and the
        panel's config then trains at the suggested rate."""
        if self.thread is not None and self.thread.is_alive():
            return None
        self.train_button.disabled = self.find_button.disabled = True
        self.status.value = (
            "Finding a learning rate: one step per rate on a few real batches, then a few short "
            "runs between the curve's landmarks&hellip;"
        )
        self.thread = threading.Thread(target=self._find_lr, name="workbench-lr-find", daemon=True)
        self.thread.start()
        return self.thread

    def _find_lr(self) -> None:
        from ..training.lr_finder import find_lr

        try:
            found = find_lr(self.cfg)
            self.lr_found = found
            plot = w.Output()
            show_figure(plot, found.figure())  # from this thread: the Output's state, not display
            note = w.HTML(f"<div style='max-width:60em'>{html.escape(found.reason)}</div>")
            self.lr_box.children = (plot, note)
            if found.suggestion:
                self.cfg = self.cfg.replace(learning_rate=found.suggestion)
                self.status.value = (
                    f"Learning rate set to <b>{found.suggestion:.2e}</b> (range test, "
                    f"{found.seconds:.0f} s): press Train."
                )
            else:
                self.status.value = "<b>No suggestion</b>: the learning rate is unchanged."
        except Exception as exc:
            log.exception("LR range test failed")
            self.status.value = f"<b>Find LR failed</b>: {html.escape(str(exc))}"
        finally:
            self.train_button.disabled = self.find_button.disabled = False

    def stop(self) -> None:
        self.stop_flag.set("Stopped from the panel.")
        self.stop_button.disabled = True
        self.status.value = "Stopping after the current step&hellip;"

    def export(self) -> None:
        from ..training.scaleout import export_script

        try:
            out = export_script(self.cfg.run_dir)
            self.status.value = f"Wrote <code>{html.escape(str(out.script))}</code>. Launch: <code>{html.escape(out.command)}</code>"
        except Exception as exc:  # a handler shows its own errors instead of losing them
            self.status.value = f"<b>Export failed:</b> {html.escape(str(exc))}"

    # -- the background thread --------------------------------------------------------------------
    def _train(self) -> None:
        from ..training.engine import train

        try:
            views = [self.plot, self.progress, *([self.samples] if self.samples else [])]
            self.result = train(
                self.cfg,
                callbacks=[*views, _StopReport(self.status)],
                stop=self.stop_flag,
                resume=self.resume,
            )
            self.status.value = f"<b>{self.result.status}</b>: {html.escape(self.result.message)}"
        except Exception as exc:
            log.exception("training failed")
            self.status.value = f"<b>failed</b>: {html.escape(str(exc))}"
        finally:
            self.plot.close()  # the Output keeps the final figure: what a saved notebook shows
            self.train_button.disabled, self.stop_button.disabled = False, True
            self.find_button.disabled = False

    def wait(self, timeout: float | None = None) -> Any:
        """Block until the background run ends (tests, scripts); returns the TrainResult."""
        if self.thread is not None:
            self.thread.join(timeout)
        return self.result


class _StopReport(Callback):
    """Says at the end of the step that obeyed Stop that training stopped, and what still runs."""

    def __init__(self, status: Any):
        self.status, self.reported = status, False

    def on_step_end(self, state: TrainState) -> None:
        if state.stop_requested and not self.reported:
            self.reported = True
            self.status.value = (
                f"Stopped at step {state.step} of {state.max_steps}: saving a checkpoint, then "
                "measuring the final eval loss&hellip;"
            )


def _previous_history(cfg: TrainConfig, resume: bool | str) -> list[dict[str, Any]]:
    return [] if resume is False else read_jsonl(RunDir(cfg.run_dir).metrics_jsonl)
