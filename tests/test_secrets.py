"""Secrets come from the environment only and never reach an executed notebook, summary.json or the documents."""

from __future__ import annotations

from pathlib import Path

import pytest
from standins import make_standin_notebooks

from workbench.errors import ConfigError
from workbench.pipeline.runner import PipelineParams, run_pipeline
from workbench.secret_guard import PLACEHOLDER, scrub_text, secret_values

SECRET = "hf_testSECRETvalue1234567890"


def files_containing(root: Path, needle: str) -> list[Path]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and needle.encode() in path.read_bytes():
            hits.append(path)
    return hits


def test_parameters_file_may_not_hold_a_secret(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="'hf_token' looks like a secret"):
        PipelineParams.load({"model": "x", "notebooks": {"03": {"hf_token": "abc"}}})
    monkeypatch.setenv("HF_TOKEN", SECRET)
    with pytest.raises(ConfigError, match="equals a secret from the environment"):
        PipelineParams.load({"hub_id": SECRET})
    # tokenizer settings and token counts are not secrets
    PipelineParams.load({"pad_token": "<pad>", "max_new_tokens": 32})


def test_secret_values_come_from_secret_looking_names_only(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", SECRET)
    monkeypatch.setenv("MY_SERVICE_API_KEY", "k-0123456789")
    monkeypatch.setenv("MAX_TOKENS", "123456789")
    values = secret_values()
    assert SECRET in values and "k-0123456789" in values and "123456789" not in values
    text, n = scrub_text(f"token={SECRET} and again {SECRET}", values)
    assert n == 2 and SECRET not in text and PLACEHOLDER in text


@pytest.mark.slow
def test_no_secret_in_any_file_a_run_writes(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", SECRET)
    careless = {  # a notebook that uses the token (fine) and prints it (not fine): the run must not keep it
        "02_choose_technique": "import os, pathlib\n"
        'pathlib.Path(run_dir, "token_len.txt").write_text(str(len(os.environ["HF_TOKEN"])))\n'
        'print("using token", os.environ["HF_TOKEN"])',
        "05_document": 'import os\nprint(os.environ["HF_TOKEN"])',
    }
    nbdir = make_standin_notebooks(tmp_path / "repo", extra_code=careless)
    run = tmp_path / "run"
    result = run_pipeline(
        {"dataset": "orders-json", "provider": {"contact": "me"}},
        run_dir=run,
        profile="quick",
        notebooks_dir=nbdir,
    )
    assert result.ok, result.reasons()
    assert (run / "token_len.txt").read_text() == str(
        len(SECRET)
    )  # the kernel did get it from the env
    assert (run / "docs" / "ai_act_record.md").is_file() and (run / "summary.json").is_file()
    assert files_containing(run, SECRET) == []
    assert PLACEHOLDER in (run / "notebooks" / "02_choose_technique.ipynb").read_text()
