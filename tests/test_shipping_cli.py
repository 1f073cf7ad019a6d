"""`workbench export` and `workbench serve` from the command line: exit codes and the lines they print."""

from __future__ import annotations

import socket

import pytest

from workbench.cli import main


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_runs):
    return tiny_runs.copy(tmp_path_factory.mktemp("cli"), "lora")


def test_export_writes_merged_and_gguf_and_exits_0(run_dir, capsys):
    code = main(["export", str(run_dir), "--gguf", "f16", "--max-prompts", "2"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "2/2 answers equal the adapter's" in out
    assert "f16" in out and "2/2 answers equal the merged model's" in out
    assert (run_dir / "export" / "model-f16.gguf").is_file()
    assert (run_dir / "export" / "Modelfile").read_text().startswith("FROM ./model-f16.gguf")


def test_serve_on_a_busy_port_is_one_line_and_exit_2(run_dir, capsys):
    main(["export", str(run_dir), "--gguf", "none", "--max-prompts", "1"])
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["serve", str(run_dir), "--port", str(port)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"Port {port} on 127.0.0.1 is in use" in err and "--port" in err


def test_serve_without_export_says_to_export(tmp_path, capsys):
    assert main(["serve", str(tmp_path)]) == 2
    assert "Run `workbench export" in capsys.readouterr().err
