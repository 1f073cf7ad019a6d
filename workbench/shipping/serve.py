"""`workbench serve RUN_DIR`: the merged (or GGUF) model behind transformers' own OpenAI-compatible server.

The server runs as a child process (`transformers serve`, extra `transformers[serving]`), pinned to
the run's model and bound to 127.0.0.1 unless told otherwise. `LocalServer` starts it, waits until
it answers, talks to it over plain HTTP and stops it.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ModelError
from ..rundir import RunDir

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 8000


@dataclass(frozen=True)
class ServeTarget:
    """What the server is pinned to (`model`, the name requests must use) and where it listens."""

    model: str
    host: str
    port: int

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def curl_line(self, question: str = "Hello!") -> str:
        body = {"model": self.model, "messages": [{"role": "user", "content": question}]}
        return (
            f"curl {self.base_url}/chat/completions -H 'Content-Type: application/json' "
            f"-d '{json.dumps(body)}'"
        )


def serve_target(
    run_dir: str | Path, *, port: int = DEFAULT_PORT, host: str = LOOPBACK, gguf: str | None = None
) -> ServeTarget:
    """Check the run has an exported model and the port is free; ConfigError saying what to do."""
    from .merged import refuse_classifier

    rd = RunDir(run_dir)
    if not rd.root.is_dir():
        raise ConfigError(f"{rd.root}: run directory not found. Check the path.")
    refuse_classifier(rd.root, "workbench serve")
    if gguf:
        model = rd.gguf_file(gguf)
        if not model.is_file():
            raise ConfigError(
                f"{model}: not found. Run `workbench export {run_dir} --gguf {gguf}`."
            )
        name = f"{model.parent}:{model.name}"  # transformers serve's <folder>:<file>.gguf
    else:
        if not (rd.export_merged_dir / "config.json").is_file():
            raise ConfigError(
                f"{rd.export_merged_dir}: no merged model. Run `workbench export {run_dir}` first."
            )
        name = str(rd.export_merged_dir)
    check_port_free(host, port)
    return ServeTarget(model=name, host=host, port=port)


def check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise ConfigError(
                f"Port {port} on {host} is in use ({exc.strerror}): another server is running "
                "there. Pick another with --port, or stop that server."
            ) from exc


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def serve_argv(target: ServeTarget, *, device: str = "cpu") -> list[str]:
    """The `transformers serve` command line for `target` (float32 on CPU: no fast bf16 here)."""
    _require_serving()
    argv = [sys.executable, "-m", "transformers.cli.transformers", "serve", target.model]
    argv += ["--host", target.host, "--port", str(target.port), "--device", device]
    return argv + ["--dtype", "float32" if device == "cpu" else "auto", "--log-level", "warning"]


def _require_serving() -> None:
    from transformers.utils.import_utils import is_serve_available

    if not is_serve_available():
        raise ModelError(
            "Serving needs transformers' server extras: pip install 'transformers[serving]' "
            "(or pip install 'workbench[serve]')."
        )


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")  # the model is a local folder: nothing to fetch
    env.setdefault("HF_HUB_DISABLE_UPDATE_CHECK", "1")
    return env


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent() -> Any:
    """A preexec_fn for Popen: on Linux the kernel kills the child when the process that started
    it dies, however it dies (SIGKILL, a closed notebook kernel), so no server is left running a
    model on every core. None elsewhere (`stop()` and the context manager remain). prctl is
    looked up here, in the parent: the child, forked from a process that may have threads, only
    calls it."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class LocalServer:
    """`transformers serve` as a child process; a context manager that waits for it and stops it."""

    def __init__(self, target: ServeTarget, *, device: str = "cpu", timeout_s: float = 120):
        self.target, self.device, self.timeout_s = target, device, timeout_s
        self.process: subprocess.Popen | None = None
        self.log: Any = None  # the server's stderr, a temporary file

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        # the server's log goes to a file: a pipe nobody reads would block it once full
        self.log = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            serve_argv(self.target, device=self.device),
            env=_child_env(),
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            preexec_fn=die_with_parent(),
        )
        self.wait_ready()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                tail = self.log.read().strip()[-800:]
                raise ModelError(f"transformers serve exited ({self.process.returncode}): {tail}")
            try:
                with urllib.request.urlopen(f"{self.root_url}/health", timeout=2):
                    return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise ModelError(f"transformers serve did not answer within {self.timeout_s:.0f} s.")

    @property
    def root_url(self) -> str:
        return f"http://{self.target.host}:{self.target.port}"

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log is not None:
            self.log.close()
            self.log = None

    def chat(self, messages: list[dict[str, str]], *, max_tokens: int = 256) -> dict[str, Any]:
        """One greedy chat completion over HTTP; the parsed OpenAI-format response."""
        return post_chat(self.target, messages, max_tokens=max_tokens)


def post_chat(
    target: ServeTarget, messages: list[dict[str, str]], *, max_tokens: int = 256
) -> dict[str, Any]:
    body = {
        "model": target.model,
        "messages": messages,
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "stream": False,
    }
    request = urllib.request.Request(
        f"{target.base_url}/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise ModelError(f"{target.base_url}: HTTP {exc.code}: {exc.read()[:500]!r}") from exc


def serve(
    run_dir: str | Path,
    *,
    port: int = DEFAULT_PORT,
    host: str = LOOPBACK,
    gguf: str | None = None,
    device: str = "cpu",
) -> int:
    """Run the server in the foreground until interrupted (what `workbench serve` does); its exit code."""
    target = serve_target(run_dir, port=port, host=host, gguf=gguf)
    if host not in (LOOPBACK, "localhost"):
        log.warning("Serving on %s: reachable from other machines, with no authentication.", host)
    log.info("serving %s at %s", target.model, target.base_url)
    try:
        return subprocess.call(
            serve_argv(target, device=device), env=_child_env(), preexec_fn=die_with_parent()
        )
    except KeyboardInterrupt:
        return 0
