"""`workbench serve`: transformers' server answers a real HTTP chat completion as the model does in-process."""

from __future__ import annotations

import socket
import sys

import pytest

from workbench.errors import ConfigError
from workbench.shipping.merged import eval_prompts, prompts_of, write_merged
from workbench.shipping.serve import LocalServer, free_port, serve_target


@pytest.fixture(scope="module")
def exported_run(tmp_path_factory, tiny_runs):
    run_dir = tiny_runs.copy(tmp_path_factory.mktemp("serve"), "lora")
    write_merged(run_dir)
    return run_dir


@pytest.mark.slow
def test_served_answer_equals_the_in_process_greedy_answer(exported_run):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from workbench.comparison.generation import GenerationSettings, generate
    from workbench.rundir import RunDir

    folder = RunDir(exported_run).export_merged_dir
    prompt = prompts_of(eval_prompts(exported_run, max_prompts=1))[0]
    model = AutoModelForCausalLM.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    want = generate(model, tokenizer, [prompt], settings=GenerationSettings(max_new_tokens=12))[0]
    assert want  # a real answer to compare, not two empty strings
    target = serve_target(exported_run, port=free_port())
    assert target.host == "127.0.0.1" and target.base_url.endswith(f":{target.port}/v1")
    with LocalServer(target, timeout_s=90) as server:
        response = server.chat(prompt, max_tokens=12)
        process = server.process
    assert response["choices"][0]["message"]["content"].strip() == want
    assert response["usage"]["completion_tokens"] <= 12
    assert process.poll() is not None  # stopped on leaving the block


PARENT = """
import sys, time
from workbench.shipping.serve import LocalServer, free_port, serve_target
server = LocalServer(serve_target(sys.argv[1], port=free_port()), timeout_s=90)
server.start()
print(server.process.pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    """Running, and not a zombie waiting for whoever adopted it to reap it."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_server_dies_with_the_process_that_started_it(exported_run):
    """A `workbench cost` or notebook killed mid-measurement must not leave a server running a
    model on every core (it did: one ran on for 50 minutes after its parent was killed)."""
    import os
    import signal
    import subprocess
    import time

    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(exported_run)], stdout=subprocess.PIPE, text=True
    )
    try:
        server_pid = int(parent.stdout.readline())
        os.kill(server_pid, 0)  # running
        parent.send_signal(signal.SIGKILL)  # no __exit__, no atexit: only the kernel can help
        parent.wait()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if not _alive(server_pid):
                return
            time.sleep(0.2)
        os.kill(server_pid, signal.SIGKILL)
        pytest.fail(f"server {server_pid} still running 15 s after its parent was killed")
    finally:
        parent.kill()


def test_busy_port_is_a_clear_error(exported_run):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ConfigError, match=f"Port {port} on 127.0.0.1 is in use.*--port"):
            serve_target(exported_run, port=port)


def test_bad_run_dirs_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="run directory not found"):
        serve_target(tmp_path / "nope", port=free_port())
    with pytest.raises(ConfigError, match="Run `workbench export"):
        serve_target(tmp_path, port=free_port())
    with pytest.raises(ConfigError, match="--gguf q8_0"):
        serve_target(tmp_path, port=free_port(), gguf="q8_0")


def test_curl_line_names_the_pinned_model(exported_run):
    target = serve_target(exported_run, port=free_port())
    line = target.curl_line("Hi")
    assert line.startswith(f"curl http://127.0.0.1:{target.port}/v1/chat/completions")
    assert target.model in line
