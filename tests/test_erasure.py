"""Provenance index and erasure requests (issue 19): normalisation, the salt, and the whole flow on
the tiny model: train, erase finds the run and rows, cleaned data retrains, verify, delete."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.config import TrainConfig
from workbench.provenance.index import ProvenanceIndex
from workbench.provenance.subjects import normalise, read_salt, salt_id, subject_hash
from workbench.rundir import RunDir
from workbench.training.engine import train

EMAIL = "Ann.Smith@Example.com"
PHONE = "+44 20 7946 0958"


def test_phone_spellings_normalise_alike() -> None:
    intl = {normalise(v).value for v in (PHONE, "+44 (0)20 7946-0958", "0044 20 7946 0958")}
    nanp = {normalise(v).value for v in ("(555) 123-4567", "555.123.4567", "555-123-4567")}
    assert intl == {"+442079460958"}
    assert nanp == {"5551234567"}
    assert normalise(PHONE).kind == "phone"
    # a national spelling cannot be mapped to a country without guessing: a second value
    assert normalise("020 7946 0958").value != normalise(PHONE).value


def test_email_case_and_free_values() -> None:
    assert normalise("  ANN.smith@EXAMPLE.com ") == normalise(EMAIL)
    assert normalise(EMAIL).kind == "email"
    assert normalise("DE89 3704 0044 0532 0130 00").value == "DE89370400440532013000"
    free = normalise("  Customer   C-17 ")
    assert (free.kind, free.value) == ("subject", "customer c-17")


def test_salt_is_made_once_and_hashes_depend_on_it(tmp_path: Path) -> None:
    path = tmp_path / ".workbench-salt"
    with pytest.raises(Exception, match="no salt file"):
        read_salt(path, create=False)
    first = read_salt(path, create=True)
    assert read_salt(path, create=True) == first == read_salt(path, create=False)
    other = read_salt(tmp_path / "other" / ".workbench-salt", create=True)
    assert salt_id(first) != salt_id(other)
    value = normalise(EMAIL).value
    assert subject_hash(value, first) != subject_hash(value, other)
    assert EMAIL.lower() not in path.read_text()


def test_nested_runs_share_the_projects_salt(tmp_path: Path) -> None:
    outer = RunDir(tmp_path / "runs" / "a").ensure()
    outer.marker_file.write_text("{}")
    nested = RunDir(outer.root / "lever_trial" / "lora-25")
    assert outer.salt_file == nested.salt_file == (tmp_path / "runs" / ".workbench-salt")


def _rows() -> list[dict]:
    rows = []
    for i in range(20):
        question = f"Where is my order {4100 + i}?"
        if i == 4:
            question += f" Write to {EMAIL} please."
        if i == 15:
            question += f" Call me on {PHONE}."
        answer = f"Order {4100 + i} left the warehouse today."
        turns = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
        rows.append({"messages": turns})
    return rows


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_erasure_end_to_end_on_the_tiny_model(tiny_model_dir, tmp_path, capsys) -> None:
    data = tmp_path / "data" / "support.jsonl"
    data.parent.mkdir()
    data.write_text("".join(json.dumps(r) + "\n" for r in _rows()), encoding="utf-8")
    source_sha = _sha(data)
    runs = tmp_path / "runs"
    cfg = TrainConfig(
        model="tiny-random",
        dataset=str(data),
        run_dir=str(runs / "support"),
        max_steps=2,
        batch_size=4,
        max_length=128,
        eval_at_start=False,
        report_to="none",
    )
    assert train(cfg).completed
    old = RunDir(cfg.run_dir)
    index = ProvenanceIndex.load(old.root)
    salt_file = runs / ".workbench-salt"
    salt = salt_file.read_text()
    assert index.salt_id == salt_id(read_salt(salt_file, create=False))
    assert [f.sha256 for f in index.files] == [source_sha]
    assert {k for s in index.subjects for k in s.kinds} == {"email", "phone"}

    request = ["--subject", "ann.smith@EXAMPLE.com", "--subject", "+44 (0)20 7946-0958"]
    assert main(["erase", *request, "--runs", str(runs)]) == 0  # a dry run writes nothing
    assert f"{data}: 2 row(s) at line(s) [5, 16]" in capsys.readouterr().out
    assert not old.erasure_dir.exists()

    assert main(["erase", *request, "--runs", str(runs), "--write"]) == 0
    (out,) = old.erasure_dir.iterdir()
    report = json.loads((out / "report.json").read_text())
    (run,) = report["runs"]
    assert run["files"][0]["lines"] == [5, 16] and run["files"][0]["unchanged"]
    assert str(old.adapter_dir) in run["old_artifacts"]
    source_lines = data.read_text().splitlines(keepends=True)
    cleaned = Path(run["files"][0]["cleaned"])
    assert cleaned.read_text().splitlines(keepends=True) == [
        line for n, line in enumerate(source_lines, 1) if n not in (5, 16)
    ]

    params = Path(run["params"])
    assert TrainConfig.from_yaml(params).dataset == str(cleaned)
    capsys.readouterr()
    assert main(["train", str(params)]) == 0
    new = RunDir(run["new_run_dir"])
    planted = [s.hash for s in index.subjects if {"email", "phone"} & set(s.kinds)]
    assert len(planted) == 2 and ProvenanceIndex.load(new.root).holding(planted) == []
    assert main(["erase", *request, "--verify", str(old.root)]) == 1  # the old run still has it
    capsys.readouterr()
    assert main(["erase", *request, "--verify", str(new.root), "--delete-old", "--audit"]) == 0
    printed = capsys.readouterr().out
    assert "ok: provenance index holds none of the subject's hashes" in printed
    assert "0 row(s) with the subject" in printed
    assert "2 prompt(s) asked, 0 answer(s) emit it" in printed
    assert not old.adapter_dir.exists() and not old.checkpoints_dir.exists()
    assert new.adapter_dir.exists() and old.train_config_yaml.exists()

    assert _sha(data) == source_sha  # the source is never modified
    assert salt_file.read_text() == salt and list(tmp_path.glob("**/.workbench-salt")) == [
        salt_file
    ]
    raw = (EMAIL.lower(), "7946 0958", "79460958", "7946-0958")
    for path in runs.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", errors="replace").lower()
            assert not any(v in text for v in raw), path


def test_index_round_trips_and_names_a_missing_field(tmp_path: Path) -> None:
    from workbench.errors import ArtifactError, ArtifactMissing
    from workbench.provenance.index import DataFile, SubjectEntry

    with pytest.raises(ArtifactMissing, match="training"):
        ProvenanceIndex.load(tmp_path)
    index = ProvenanceIndex(
        salt_id="ab",
        method="m",
        subject_field=None,
        files=[DataFile("/d.jsonl", ["train"], "00")],
        subjects=[SubjectEntry("h", ["email"], ["train"], 2)],
    )
    index.save(tmp_path)
    assert ProvenanceIndex.load(tmp_path) == index
    data = json.loads(RunDir(tmp_path).provenance_json.read_text())
    data["subjects"][0].pop("kinds")
    RunDir(tmp_path).provenance_json.write_text(json.dumps(data))
    with pytest.raises(ArtifactError, match="'subjects\\[0\\].kinds' is missing"):
        ProvenanceIndex.load(tmp_path)


def test_erase_refuses_bad_input(tmp_path, capsys) -> None:
    assert main(["erase", "--subject", " ", "--runs", str(tmp_path)]) == 2
    assert "empty value" in capsys.readouterr().err
    assert main(["erase", "--subject", EMAIL, "--runs", str(tmp_path / "nowhere")]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert main(["erase", "--subject", EMAIL, "--delete-old"]) == 2
    assert "--delete-old needs --verify" in capsys.readouterr().err


def test_retrain_params_keep_a_folders_eval_split(tiny_model_dir, tmp_path) -> None:
    from workbench.provenance.erasure import find_erasure, write_erasure

    folder = tmp_path / "data"
    folder.mkdir()
    rows = _rows()
    extra = [
        {
            "messages": [
                {"role": "user", "content": f"Mail {EMAIL} about it"},
                {"role": "assistant", "content": "Done."},
            ]
        }
    ]
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:3] + extra))
    runs = tmp_path / "runs"
    cfg = TrainConfig(
        model="tiny-random",
        dataset=str(folder),
        run_dir=str(runs / "f"),
        max_steps=1,
        batch_size=4,
        max_length=128,
        eval_at_start=False,
        report_to="none",
    )
    assert train(cfg).completed
    assert {r for f in ProvenanceIndex.load(runs / "f").files for r in f.roles} == {"train", "eval"}

    phone_only = find_erasure([PHONE], runs=runs)  # in train.jsonl only
    write_erasure(phone_only, [PHONE])
    (run,) = phone_only.runs
    params = TrainConfig.from_yaml(run.params)
    assert params.dataset == run.files[0].cleaned and len(run.files) == 1
    assert params.eval_dataset == str((folder / "eval.jsonl").resolve())  # the shipped eval split

    both = find_erasure([EMAIL], runs=runs)  # line 5 of train.jsonl and line 4 of eval.jsonl
    write_erasure(both, [EMAIL])
    (run,) = both.runs
    cleaned = {Path(f.source).name: f for f in run.files}
    assert (cleaned["train.jsonl"].lines, cleaned["eval.jsonl"].lines) == ([5], [4])
    params = TrainConfig.from_yaml(run.params)
    assert (params.dataset, params.eval_dataset) == (
        cleaned["train.jsonl"].cleaned,
        cleaned["eval.jsonl"].cleaned,
    )
    assert Path(params.eval_dataset).read_text().count("\n") == 3
