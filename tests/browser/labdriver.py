"""Drive a real JupyterLab in Debian's Chromium: one server and one browser for the whole session.

The server runs on a free loopback port with a temporary root, no token, its own settings (notebook
windowing off, so off-screen cells stay in the page; no news or update checks) and its own runtime
and config folders, so nothing from the user's own Jupyter set-up leaks in or is touched. Notebooks
are copied into that root with their `parameters` rewritten by papermill (`prepare_only`), which is
what a person would open. `NotebookPage` wraps the Playwright page with the few JupyterLab moves the
tests need; widget text is always found through widget selectors, never a page-wide text search
(the cell source holds the same words).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
DOC_IMAGES = REPO / "docs" / "images"

# Debian's chromium as root on a closed network: no sandbox, no phoning home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# user settings written into the server's private settings folder
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}
VIEWPORT = {"width": 1280, "height": 900}


def chromium_path() -> str | None:
    """The system Chromium (Debian's package), or None when it is not installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Lab:
    """A running JupyterLab server: its URL and the folder it serves."""

    url: str
    root: Path
    process: subprocess.Popen
    log_path: Path

    def api(self, path: str, method: str = "GET"):
        request = urllib.request.Request(f"{self.url}/api/{path}", method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """End every session (and its kernel) so the next test starts on a quiet CPU."""
        for session in self.api("sessions"):
            self.api(f"sessions/{session['id']}", method="DELETE")

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]


def _write_settings(folder: Path) -> None:
    for rel, values in LAB_SETTINGS.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def start_lab(home: Path, *, timeout_s: float = 90) -> Lab:
    """Start `jupyter lab` serving home/root; return once its REST API answers."""
    root, settings = home / "root", home / "settings"
    root.mkdir(parents=True, exist_ok=True)
    _write_settings(settings)
    port = free_port()
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "OMP_NUM_THREADS": "1",  # the tiny model needs no more; steady on a busy shared machine
    }
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        "--ServerApp.port_retries=0",
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        "--ServerApp.disable_check_xsrf=True",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={home / 'workspaces'}",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    log_path = home / "jupyterlab.log"
    log = log_path.open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    log.close()  # the server holds its own copy
    lab = Lab(url=f"http://127.0.0.1:{port}", root=root, process=process, log_path=log_path)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {process.returncode}:\n{lab.log_tail()}")
        try:
            lab.api("status")
            return lab
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    stop_lab(lab)
    raise RuntimeError(f"jupyter lab did not answer within {timeout_s:.0f} s:\n{lab.log_tail()}")


def stop_lab(lab: Lab) -> None:
    lab.process.terminate()
    try:
        lab.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        lab.process.kill()
        lab.process.wait(timeout=10)


def prepare_notebook(source: Path, lab: Lab, **parameters) -> str:
    """Copy a notebook into the lab root with its parameters injected (not run); return its name."""
    import papermill as pm

    target = lab.root / source.name
    pm.execute_notebook(
        str(source),
        str(target),
        parameters=parameters,
        prepare_only=True,
        kernel_name="python3",
        progress_bar=False,
    )
    return target.name


def declared_parameters(source: Path) -> set[str]:
    """Names assigned in the notebook's `parameters` cell."""
    import papermill as pm

    return set(pm.inspect_notebook(str(source)))


# JavaScript run in the page; `window.jupyterapp` exists because of expose_app_in_browser.
_JS_NOTEBOOK_READY = """(name) => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (!w || !w.context || w.context.path !== name || !w.sessionContext) return false;
  const kernel = w.sessionContext.session && w.sessionContext.session.kernel;
  return !!kernel && kernel.status === 'idle' && w.content.widgets.length > 0;
}"""
_JS_RUN = """(command) => {
  window.__wbRun = 'running';
  window.jupyterapp.commands.execute(command).then(
    (ok) => { window.__wbRun = ok === false ? 'stopped' : 'done'; },
    (err) => { window.__wbRun = 'failed: ' + err; });
}"""
_JS_SELECT_CELL = """(marker) => {
  const notebook = window.jupyterapp.shell.currentWidget.content;
  const index = notebook.widgets.findIndex((cell) => cell.model.sharedModel.getSource().includes(marker));
  if (index >= 0) notebook.activeCellIndex = index;
  return index;
}"""
_JS_ERRORS = """() => {
  const errors = [];
  window.jupyterapp.shell.currentWidget.content.widgets.forEach((cell, i) => {
    if (cell.model.type !== 'code') return;
    for (const o of cell.model.outputs.toJSON())
      if (o.output_type === 'error') errors.push(`cell ${i}: ${o.ename}: ${o.evalue}`);
  });
  return errors;
}"""
_JS_CELL_COUNTS = """() => [
  document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell').length,
  window.jupyterapp.shell.currentWidget.content.widgets.length,
]"""
_JS_PLOT_POINTS = (
    "(gd) => (gd.data || []).reduce((n, trace) => n + (trace.x ? trace.x.length : 0), 0)"
)


class NotebookPage:
    """One notebook open in JupyterLab, with the moves a person makes: open, run all, look."""

    def __init__(self, page, lab: Lab):
        self.page, self.lab = page, lab

    def open(self, name: str, *, timeout_s: float = 90) -> NotebookPage:
        self.page.goto(f"{self.lab.url}/lab/tree/{name}?reset")
        self.page.wait_for_function(_JS_NOTEBOOK_READY, arg=name, timeout=timeout_s * 1000)
        self.page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
        in_page, in_model = self.page.evaluate(_JS_CELL_COUNTS)
        assert in_page == in_model, (
            f"{in_model - in_page} cells missing from the page: windowing on?"
        )
        return self

    def run_all(self, *, timeout_s: float = 180) -> None:
        """Run every cell (Run > Run All Cells) and wait until the last one finished; fail on errors."""
        self._run("notebook:run-all-cells", timeout_s)

    def run_cell(self, marker: str, *, timeout_s: float = 60) -> None:
        """Run the first cell whose source contains `marker`, as a person re-running it would."""
        assert self.page.evaluate(_JS_SELECT_CELL, marker) >= 0, f"no cell contains {marker!r}"
        self._run("notebook:run-cell", timeout_s)

    def _run(self, command: str, timeout_s: float) -> None:
        self.page.evaluate(_JS_RUN, command)
        self.wait(timeout_s=timeout_s, command=command)

    def start_all(self) -> None:
        """Start Run All Cells and return at once (to watch or interrupt it); `wait` then waits."""
        self.page.evaluate(_JS_RUN, "notebook:run-all-cells")

    def wait(self, *, timeout_s: float = 180, command: str = "notebook:run-all-cells") -> None:
        """Wait until the command started last has finished; fail on errors."""
        self.page.wait_for_function(
            "() => window.__wbRun !== 'running'", timeout=timeout_s * 1000, polling=250
        )
        state = self.page.evaluate("() => window.__wbRun")
        errors = self.errors()
        assert not errors and state == "done", f"{command}: {state}; errors: {errors}"

    def errors(self) -> list[str]:
        """Error outputs of cells, and tracebacks shown inside widgets (a handler's Output)."""
        errors = self.page.evaluate(_JS_ERRORS)
        in_widgets = self.page.locator(
            '.widget-output [data-mime-type="application/vnd.jupyter.stderr"]'
        )
        return errors + [
            text[-800:] for text in in_widgets.all_inner_texts() if "Traceback" in text
        ]

    def output_of(self, marker: str):
        """Output area of the code cell whose source contains `marker` (first match)."""
        cell = self.page.locator(".jp-Notebook .jp-CodeCell").filter(
            has=self.page.locator(".jp-InputArea", has_text=marker)
        )
        return cell.first.locator(".jp-Cell-outputArea")

    def outputs(self):
        """All output areas: the part of the page a person reads as results (never the sources)."""
        return self.page.locator(".jp-Notebook .jp-OutputArea")

    def field(self, container, label: str):
        """The input, select or textarea of the control in `container` labelled exactly `label`."""
        exact = re.compile(rf"^\s*{re.escape(label)}\s*$")
        control = container.locator(".widget-inline-hbox").filter(
            has=self.page.locator(".widget-label", has_text=exact)
        )
        return control.locator("input, select, textarea").first

    def button(self, label: str):
        return self.outputs().locator(".jupyter-button", has_text=label)

    def plot_points(self, plot) -> int:
        """How many points the plotly graph `plot` (a `.js-plotly-plot` locator) draws now."""
        return plot.evaluate(_JS_PLOT_POINTS)

    def screenshot(self, locator, name: str, *, docs: bool = False, max_height: int = 0) -> Path:
        """Save an element's screenshot (its top `max_height` pixels, if given) under
        tests/browser/artifacts/ (git-ignored); with docs=True and WORKBENCH_DOC_IMAGES=1 also under
        docs/images/ for the README."""
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        box = self._show_top_of(locator)
        height = min(box["height"], max_height) if max_height else box["height"]
        if height > VIEWPORT["height"] - 160:  # taller than the window: grow the window to fit it
            size = {"width": VIEWPORT["width"], "height": min(int(height) + 200, 4000)}
            self.page.set_viewport_size(size)
            box = self._show_top_of(locator)
        clip = {"x": box["x"], "y": box["y"], "width": box["width"], "height": height}
        self.page.screenshot(path=str(path), clip=clip, animations="disabled")
        self.page.set_viewport_size(VIEWPORT)
        if docs and os.environ.get("WORKBENCH_DOC_IMAGES") == "1":
            DOC_IMAGES.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOC_IMAGES / path.name)
        return path

    def _show_top_of(self, locator) -> dict:
        locator.evaluate("(e) => e.scrollIntoView({block: 'start'})")
        self.page.wait_for_timeout(300)  # let JupyterLab re-lay out and plotly redraw
        return locator.bounding_box()
