"""Every failure of the `workbench` command: one line on stderr, exit 2, no traceback, no secret."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.io import describe_os_error
from workbench.secret_guard import PLACEHOLDER, SecretFilter

REPO = Path(__file__).resolve().parents[1]


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("workbench: error: "), err
    return lines[0]


def inspected_run(run_dir: Path) -> Path:
    """A run directory holding step 01's report, written by the real command."""
    assert (
        main(["inspect", "orders-json", "--model", "none", "--out", str(run_dir / "inspect")]) == 0
    )
    return run_dir


def cli(
    *args: str, stdout=subprocess.PIPE, wrapper: tuple[str, ...] = ()
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*wrapper, sys.executable, "-m", "workbench", *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=300,
    )


# -- 7: report / compare on something that is not a run ------------------------------------------


def test_report_on_a_missing_run_writes_nothing(tmp_path, capsys):
    run = tmp_path / "no-such-run"
    assert main(["report", str(run)]) == 2
    assert "run directory not found" in one_line(capsys.readouterr().err)
    assert not run.exists()


def test_report_on_a_folder_without_any_run_artifact_writes_nothing(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    line = one_line(capsys.readouterr().err)
    assert "not a run directory" in line and "train_result.json" in line
    assert list(tmp_path.iterdir()) == []


def test_compare_on_a_missing_run_is_one_line(tmp_path, capsys):
    assert main(["compare", str(tmp_path / "nope")]) == 2
    assert "run directory not found" in one_line(capsys.readouterr().err)


def test_report_on_a_run_with_one_step_still_works(tmp_path, capsys):
    run = inspected_run(tmp_path / "run")
    capsys.readouterr()
    assert main(["report", str(run)]) == 0
    assert (run / "docs" / "model_card.md").is_file()
    assert "note: not available: step 03" in capsys.readouterr().err


# -- 9: files and folders ------------------------------------------------------------------------


def test_a_missing_parameters_file_is_named(tmp_path, capsys):
    params = tmp_path / "params.yaml"
    assert main(["train", str(params)]) == 2
    assert one_line(capsys.readouterr().err).endswith(
        f"parameters file not found: {params}. Check the path."
    )


def test_an_output_folder_that_is_a_file(tmp_path, capsys):
    blocker = tmp_path / "out"
    blocker.write_text("not a folder")
    assert main(["inspect", "orders-json", "--model", "none", "--out", str(blocker)]) == 2
    assert f"{blocker} is a file, not a folder" in one_line(capsys.readouterr().err)
    assert main(["inspect", "orders-json", "--model", "none", "--out", str(blocker / "x")]) == 2
    assert f"{blocker} is a file, not a folder" in one_line(capsys.readouterr().err)


@pytest.mark.slow  # a subprocess
def test_disk_full_behind_redirected_output():
    """A real ENOSPC: /dev/full as stdout (opened for writing, never renamed over)."""
    with open("/dev/full", "w") as full:
        proc = cli("inspect", "orders-json", "--model", "none", stdout=full)
    assert proc.returncode == 2, proc.stderr
    assert one_line(proc.stderr) == (
        "workbench: error: disk full while writing standard output: free space and rerun "
        "(a training run resumes from its last checkpoint)"
    )


def test_disk_full_while_writing_a_run_file_names_the_file(tmp_path, capsys, monkeypatch):
    """ENOSPC from fsync, at the OS boundary (no full file system is available without root tricks)."""
    run = inspected_run(tmp_path / "run")
    capsys.readouterr()

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    assert main(["report", str(run)]) == 2
    line = one_line(capsys.readouterr().err)
    assert f"disk full while writing {run / 'docs' / 'model_card.md'}: free space" in line
    assert not list((run / "docs").glob(".*.tmp"))  # no temp file left behind


@pytest.mark.slow  # a subprocess
def test_a_read_only_run_folder(tmp_path, capsys):
    """EACCES for real; root ignores permission bits, so as root the command runs without them."""
    run = inspected_run(tmp_path / "run")
    capsys.readouterr()
    os.chmod(run, 0o555)
    try:
        if os.geteuid() != 0:
            code, err = main(["report", str(run)]), capsys.readouterr().err
        elif shutil.which("setpriv"):
            drop = "-dac_override,-dac_read_search"
            proc = cli(
                "report",
                str(run),
                wrapper=("setpriv", f"--inh-caps={drop}", f"--bounding-set={drop}", "--"),
            )
            code, err = proc.returncode, proc.stderr
        else:
            pytest.skip("running as root without setpriv: permission bits cannot be enforced")
    finally:
        os.chmod(run, 0o755)
    assert code == 2, err
    assert one_line(err) == (
        f"workbench: error: cannot write {run / 'docs'}: permission denied. "
        "Choose a folder you can write to, or fix its permissions"
    )


def test_os_errors_read_as_what_to_do(tmp_path):
    path = str(tmp_path / "run" / "x.json")
    assert "the file system is read-only" in describe_os_error(
        OSError(errno.EROFS, os.strerror(errno.EROFS), path)
    )
    assert describe_os_error(OSError(errno.EDQUOT, "Disk quota exceeded", path)).startswith(
        f"disk full while writing {path}"
    )
    wrapped = RuntimeError(
        'Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "No space left on device" })'
    )
    assert describe_os_error(wrapped).startswith("disk full while writing a file")
    assert describe_os_error(ValueError("a bug")) is None


# -- unexpected errors, --debug, secrets ---------------------------------------------------------


def bug(**kwargs):
    raise KeyError("a bug in the workbench")


def test_an_unexpected_error_is_one_line_and_debug_adds_the_traceback(
    tmp_path, capsys, monkeypatch
):
    run = inspected_run(tmp_path / "run")
    capsys.readouterr()
    monkeypatch.setattr("workbench.documents.writer.write_run_docs", bug)  # a bug, injected
    assert main(["report", str(run)]) == 2
    line = one_line(capsys.readouterr().err)
    assert "unexpected KeyError: 'a bug in the workbench' (rerun with --debug" in line
    assert main(["--debug", "report", str(run)]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "in bug" in err
    assert err.strip().splitlines()[-1] == line
    monkeypatch.setenv("WORKBENCH_DEBUG", "1")
    assert main(["report", str(run)]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_a_secret_in_the_failure_line_is_redacted(tmp_path, capsys, monkeypatch):
    secret = "hf_0123456789abcdefSECRET"
    monkeypatch.setenv("HF_TOKEN", secret)
    assert main(["compare", str(tmp_path / f"run-{secret}")]) == 2
    line = one_line(capsys.readouterr().err)
    assert secret not in line and "run-***redacted***" in line
    assert main(["--debug", "compare", str(tmp_path / f"run-{secret}")]) == 2
    assert secret not in capsys.readouterr().err  # not in the traceback either


@pytest.mark.parametrize("argv", [["model"], ["report"]])
def test_usage_errors_stay_argparse_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2


@pytest.mark.slow  # a subprocess
def test_library_log_lines_on_stderr_are_redacted_too(tmp_path):
    secret = "hf_0123456789abcdefSECRET"
    data = tmp_path / f"export-{secret}.jsonl"
    good = (
        '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}'
    )
    data.write_text(good + '\n{"messages": "broken"}\n')
    proc = subprocess.run(
        [sys.executable, "-m", "workbench", "inspect", str(data), "--model", "none"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "OMP_NUM_THREADS": "1", "HF_TOKEN": secret},
        timeout=300,
    )
    assert "WARNING workbench.data.dataset: " in proc.stderr  # the skipped row is reported
    assert secret not in proc.stderr and f"export-{PLACEHOLDER}.jsonl" in proc.stderr


def test_secret_filter_scrubs_messages_and_tracebacks():
    import io as stdio
    import logging

    secret = "sk-live-0123456789"
    stream = stdio.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(SecretFilter([secret]))
    logger = logging.getLogger("workbench.tests.secret_filter")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("calling %s with key %s", "api", secret)
        try:
            raise RuntimeError(f"rejected key {secret}")
        except RuntimeError:
            logger.exception("request failed")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert secret not in text
    assert f"calling api with key {PLACEHOLDER}" in text and f"rejected key {PLACEHOLDER}" in text
