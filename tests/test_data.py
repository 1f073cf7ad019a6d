"""The data loader: every format and source kind, column mapping, problems with lines, samples."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from workbench.data.dataset import SAMPLES_DIR, ChatDataset, load_dataset, sample_schema
from workbench.errors import DataError

REPO = Path(__file__).resolve().parents[1]
CHAT = [
    {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!", "name": "bot", "weight": 1},
        ],
        "id": 7,
    },
    {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]},
]
ALPACA = [
    {"instruction": "Add", "input": "2 and 3", "output": "5"},
    {"instruction": "Greet", "input": "", "output": "Hi", "system": "Be kind."},
]


def write_jsonl(path: Path, rows: list) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def conv(user: str, answer: str) -> list[dict]:
    return [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]


# -- formats -------------------------------------------------------------------------------------


def test_chat_jsonl_keeps_system_ignores_extra_keys_and_records_provenance(tmp_path):
    path = write_jsonl(tmp_path / "chat.jsonl", CHAT)
    ds = load_dataset(path)
    assert ds.provenance.format == "chat"
    assert ds[0] == [{"role": "system", "content": "Be brief."}, *conv("Hi", "Hello!")]
    assert ds[1] == conv("2+2?", "4")
    prov = ds.provenance
    assert prov.source == str(path.resolve()) and Path(prov.source).is_absolute()
    assert prov.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (prov.rows_read, prov.rows_loaded) == (2, 2)
    assert ds.row_ids == [1, 2] and ds.problems == []


def test_alpaca_joins_instruction_and_input_and_keeps_system():
    ds = load_dataset(ALPACA)
    assert ds.provenance.format == "alpaca"
    assert ds[0] == conv("Add\n\n2 and 3", "5")
    assert ds[1] == [{"role": "system", "content": "Be kind."}, *conv("Greet", "Hi")]


def test_prompt_completion_plain_aliases_and_conversational():
    assert load_dataset([{"prompt": "Q", "completion": "A"}])[0] == conv("Q", "A")
    aliased = load_dataset([{"question": "Q", "answer": "A"}])
    assert aliased.provenance.format == "prompt_completion" and aliased[0] == conv("Q", "A")
    trl_style = [
        {
            "prompt": [{"role": "user", "content": "Q"}],
            "completion": [{"role": "assistant", "content": "A"}],
        }
    ]
    assert load_dataset(trl_style)[0] == conv("Q", "A")


def test_sharegpt_maps_speakers_and_system():
    rows = [
        {
            "conversations": [
                {"from": "system", "value": "S"},
                {"from": "human", "value": "Q"},
                {"from": "gpt", "value": "A"},
            ]
        }
    ]
    ds = load_dataset(rows)
    assert ds.provenance.format == "sharegpt"
    assert ds[0] == [{"role": "system", "content": "S"}, *conv("Q", "A")]


def test_text_rows_become_one_assistant_turn():
    ds = load_dataset([{"text": "Once upon a time."}])
    assert ds.provenance.format == "text"
    assert ds[0] == [{"role": "assistant", "content": "Once upon a time."}]


def test_openai_content_parts_are_joined():
    rows = [
        {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
                },
                {"role": "assistant", "content": "c"},
            ]
        }
    ]
    assert load_dataset(rows)[0] == conv("ab", "c")


def test_format_override_and_column_mapping():
    rows = [{"text": "plain", "messages": [{"role": "user", "content": "x"}]}]
    assert load_dataset(rows).provenance.format == "chat"
    assert load_dataset(rows, format="text")[0] == [{"role": "assistant", "content": "plain"}]
    mapped = load_dataset(
        [{"q": "Q", "a": "A", "sys": "S"}],
        columns={"prompt": "q", "completion": "a", "system": "sys"},
    )
    assert mapped.provenance.format == "prompt_completion"
    assert mapped[0] == [{"role": "system", "content": "S"}, *conv("Q", "A")]
    dialog = load_dataset([{"dialog": CHAT[1]["messages"]}], columns={"messages": "dialog"})
    assert dialog[0] == conv("2+2?", "4")


def test_bad_options_are_data_errors():
    with pytest.raises(DataError, match="Known fields"):
        load_dataset(ALPACA, columns={"answer_text": "output"})
    with pytest.raises(DataError, match="Unknown format"):
        load_dataset(ALPACA, format="yaml")
    with pytest.raises(DataError, match="on_error"):
        load_dataset(ALPACA, on_error="ignore")
    with pytest.raises(DataError, match="could not recognise the format.*colour"):
        load_dataset([{"colour": "red"}])


# -- source kinds --------------------------------------------------------------------------------


def test_json_list_data_wrapper_and_jsonl_saved_as_json(tmp_path):
    (tmp_path / "list.json").write_text(json.dumps(ALPACA))
    (tmp_path / "wrapped.json").write_text(json.dumps({"data": ALPACA, "version": 2}))
    write_jsonl(tmp_path / "lines.json", ALPACA)
    for name in ("list.json", "wrapped.json", "lines.json"):
        ds = load_dataset(tmp_path / name)
        assert len(ds) == 2 and ds.provenance.format == "alpaca", name
    (tmp_path / "obj.json").write_text(json.dumps({"rows": ALPACA}))
    with pytest.raises(DataError, match="expected a list of rows.*rows"):
        load_dataset(tmp_path / "obj.json")


def test_csv_and_tsv_with_multiline_cells_report_the_right_line(tmp_path):
    csv_text = 'instruction,input,output\nAdd,"2 and\n3",5\nGreet\nSay hi,,Hi\na,b,c,d\nEmpty,,\n'
    (tmp_path / "a.csv").write_text(csv_text)
    ds = load_dataset(tmp_path / "a.csv")
    assert ds[0] == conv("Add\n\n2 and\n3", "5") and ds[1] == conv("Say hi", "Hi")
    assert ds[2] == conv("Empty", "")  # an empty answer loads: inspection reports it
    assert ds.row_ids == [3, 5, 7]  # record 1 spans lines 2-3
    assert [(p.line, p.field) for p in ds.problems] == [(4, "output"), (6, None)]
    assert "more value(s) than header" in ds.problems[1].message
    (tmp_path / "b.tsv").write_text("prompt\tcompletion\nQ\tA\n")
    assert load_dataset(tmp_path / "b.tsv")[0] == conv("Q", "A")


def test_csv_cell_holding_json_messages(tmp_path):
    import csv

    with open(tmp_path / "m.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["messages"])
        writer.writerow([json.dumps(CHAT[1]["messages"])])
    assert load_dataset(tmp_path / "m.csv")[0] == conv("2+2?", "4")


def test_parquet_dataframe_and_datasets(tmp_path):
    pd = pytest.importorskip("pandas")
    datasets = pytest.importorskip("datasets")
    frame = pd.DataFrame(ALPACA + [{"instruction": "Name", "input": None, "output": "Ada"}])
    from_frame = load_dataset(frame)  # None/NaN in an optional column is just absent
    assert from_frame.provenance.source == "<DataFrame>" and from_frame[2] == conv("Name", "Ada")
    sharegpt = pd.DataFrame(
        [{"conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "A"}]}]
    )
    sharegpt.to_parquet(tmp_path / "s.parquet")
    pq = load_dataset(tmp_path / "s.parquet")
    assert (
        pq[0] == conv("Q", "A")
        and pq.provenance.sha256
        == hashlib.sha256((tmp_path / "s.parquet").read_bytes()).hexdigest()
    )
    dd = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_list(ALPACA),
            "validation": datasets.Dataset.from_list(ALPACA[:1]),
        }
    )
    assert len(load_dataset(dd)) == 2
    assert len(load_dataset(dd, split="eval")) == 1
    assert len(load_dataset(dd["train"])) == 2
    with pytest.raises(DataError, match="Splits: train, validation"):
        load_dataset(dd, split="holdout")


def test_chatdataset_passes_through_and_max_rows(tmp_path):
    ds = load_dataset(CHAT * 5)
    assert load_dataset(ds) is ds
    assert len(load_dataset(ds, max_rows=3)) == 3
    limited = load_dataset(write_jsonl(tmp_path / "c.jsonl", CHAT * 5), max_rows=4)
    assert (len(limited), limited.provenance.rows_read) == (4, 4)


def test_unknown_things_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="not a shipped sample.*orders-json"):
        load_dataset("no-such-sample")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(DataError, match="unsupported file type '.txt'"):
        load_dataset(tmp_path / "x.txt")
    with pytest.raises(DataError, match="Cannot load"):
        load_dataset(42)
    (tmp_path / "empty.jsonl").write_bytes(b"\n  \n")
    with pytest.raises(DataError, match="empty"):
        load_dataset(tmp_path / "empty.jsonl")


# -- problems ------------------------------------------------------------------------------------


def messy_file(tmp_path: Path) -> Path:
    good = json.dumps(CHAT[1])
    rows = [
        good,  # 1
        '{"messages": [{"role": "user", "content": "trunc',  # 2 truncated JSON
        "",  # 3 blank: skipped
        json.dumps({"messages": [{"role": "user", "content": 5}]}),  # 4 wrong type
        json.dumps({"messages": [{"role": "tool", "content": "x"}]}),  # 5 unknown role
        json.dumps({"messages": []}),  # 6 empty conversation
        json.dumps(["not", "an", "object"]),  # 7 not an object
        json.dumps({"prompt": "Q", "completion": "A"}),  # 8 other format
        good,  # 9
    ]
    path = write_jsonl(tmp_path / "messy.jsonl", rows)
    with open(path, "ab") as f:
        f.write(b'{"messages": [{"role": "user", "content": "caf\xe9"}]}\n')  # 10 Latin-1 byte
    return path


def test_report_mode_loads_good_rows_and_names_line_and_field(tmp_path):
    ds = load_dataset(messy_file(tmp_path))
    assert len(ds) == 2 and ds.row_ids == [1, 9]
    got = [(p.line, p.field) for p in ds.problems]
    assert got == [
        (2, None),
        (4, "messages[0].content"),
        (5, "messages[0].role"),
        (6, "messages"),
        (7, None),
        (8, "messages"),
        (10, None),
    ]
    assert all(p.source == ds.provenance.source and p.message for p in ds.problems)
    assert "truncated" in ds.problems[0].hint
    assert "UTF-8" in ds.problems[-1].message and "0xe9" in ds.problems[-1].message
    assert "line 5, field 'messages[0].role'" in str(ds.problems[2])
    assert (ds.provenance.rows_read, ds.provenance.rows_loaded) == (9, 2)


def test_raise_mode_stops_at_the_first_bad_row(tmp_path):
    with pytest.raises(DataError, match=r"messy\.jsonl, line 2: not valid JSON"):
        load_dataset(messy_file(tmp_path), on_error="raise")


def test_nothing_loadable_is_a_data_error_with_the_first_problems(tmp_path):
    path = write_jsonl(
        tmp_path / "bad.jsonl", ['{"messages": [', json.dumps({"messages": [{"role": "x"}]})]
    )
    with pytest.raises(DataError, match="none of the 2 row"):
        load_dataset(path, format="chat")


def test_huge_field_is_a_problem_not_a_crash():
    ds = load_dataset([{"text": "ok"}, {"text": "x" * 1_000_001}])
    assert len(ds) == 1 and ds.problems[0].line == 2 and "limit" in ds.problems[0].message


# -- the source is never touched; save ------------------------------------------------------------


def test_source_is_read_only_and_save_refuses_to_overwrite_it(tmp_path):
    path = write_jsonl(tmp_path / "chat.jsonl", CHAT)
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    path.chmod(0o444)  # a read-only file still loads: the loader only opens for reading
    ds = load_dataset(path)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    path.chmod(0o644)
    with pytest.raises(DataError, match="refusing to overwrite the source"):
        ds.save(path, overwrite=True)
    out = ds.save(tmp_path / "copy.jsonl")
    assert load_dataset(out).fingerprint() == ds.fingerprint()
    with pytest.raises(DataError, match="exists"):
        ds.save(out)
    assert path.read_bytes() == before[0]


def test_save_is_atomic_when_writing_fails(tmp_path):
    target = tmp_path / "out.jsonl"
    target.write_text("previous\n")
    ds = ChatDataset(conversations=[conv("ok", "\ud800")], provenance=load_dataset(CHAT).provenance)
    with pytest.raises(UnicodeEncodeError):  # a lone surrogate cannot be written as UTF-8
        ds.save(target, overwrite=True)
    assert target.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]  # no temp file left behind


# -- the shipped samples -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["orders-json", "support-tone", "product-jargon", "general-probe"])
def test_clean_samples_load_without_problems(name):
    for split in ("train", "eval"):
        ds = load_dataset(name, split=split)
        assert len(ds) > 0 and ds.problems == [], (name, split)
        assert (ds.provenance.sample, ds.provenance.split) == (name, split)
        assert Path(ds.provenance.source) == SAMPLES_DIR / name / f"{split}.jsonl"
        assert all(c[-1]["role"] == "assistant" and c[-1]["content"].strip() for c in ds)


def test_the_first_probe_prompts_mix_kinds_of_question():
    """A probe capped at its first N prompts (the quick profile asks 10) must not be one kind of
    question: ten capitals cannot show a model that stopped doing sums or answering in words."""
    questions = [c[0]["content"] for c in load_dataset("general-probe", split="eval")]
    for n in (10, 20):
        openings = Counter(" ".join(q.split()[:4]) for q in questions[:n])
        assert openings.most_common(1)[0][1] <= n // 3, (n, openings.most_common(3))


def _sample_probe_script():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "scripts" / "sample_probe.py"
    spec = importlib.util.spec_from_file_location("sample_probe", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_probe_holds_exactly_the_questions_its_verification_kept():
    """scripts/sample_probe.py asked the base model every candidate; each decision stored in
    general_probe_verified.json follows again from the stored answer, and the sample is the kept set."""
    script = _sample_probe_script()
    records = json.loads(script.VERIFIED.read_text(encoding="utf-8"))
    assert [(r["question"], r["reference"]) for r in records] == script.CANDIDATES
    for r in records:
        why = script.refused(r["question"], r["reference"])
        if why is None:
            why = script.wrong(r["base_answer"], r["reference"])
        assert (r["why_not"], r["kept"]) == (why, why is None), r["question"]
    kept = {(r["question"], r["reference"]) for r in records if r["kept"]}
    probe = {
        (c[0]["content"], c[1]["content"]) for c in load_dataset("general-probe", split="eval")
    }
    assert probe == kept and len(kept) >= 150


def test_probe_candidates_that_could_be_right_by_accident_are_refused():
    from workbench.comparison.metrics import contains_reference

    script = _sample_probe_script()
    assert script.refused("What is the first letter of the English alphabet?", "A")
    assert script.refused("What is 100 divided by 10?", "10")  # the question contains it
    assert script.refused("What language is spoken in Germany?", "German")
    assert script.refused("What is 2 + 3?", "5") is None  # a digit is matched as a word too
    accident = "A year is approximately 365 days. So, 1 year is 365 * 12 = 312 months."
    assert contains_reference(accident, "twelve") == 1.0  # the metric alone would keep it
    assert script.wrong(accident, "twelve") is not None
    assert script.wrong("It was written by J.K. Rowling.", "Rowling") is None
    assert script.wrong("The capital of Poland is Poland.", "Warsaw")


def test_the_handwritten_orders_load_as_a_split_of_the_sample():
    ds = load_dataset("orders-json", split="handwritten")
    assert len(ds) == 28 and ds.problems == []
    assert (ds.provenance.sample, ds.provenance.split) == ("orders-json", "handwritten")
    assert Path(ds.provenance.source) == SAMPLES_DIR / "orders-json" / "handwritten.jsonl"
    system = load_dataset("orders-json")[0][0]
    assert all(
        c[0] == system and [m["role"] for m in c] == ["system", "user", "assistant"] for c in ds
    )
    readme = (SAMPLES_DIR / "orders-json" / "README.md").read_text()
    assert "`handwritten.jsonl`: 28 orders written by hand" in readme


ORDER_SPLITS = ("train", "eval", "handwritten")


def test_orders_answers_satisfy_the_schema_and_are_compact():
    import jsonschema

    schema = sample_schema("orders-json")
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for split in ORDER_SPLITS:
        for c in load_dataset("orders-json", split=split):
            answer = c[-1]["content"]
            obj = json.loads(answer)
            assert not list(validator.iter_errors(obj)), answer
            assert list(obj) == ["customer", "order_date", "currency", "items", "total"]
            assert answer == json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


CURRENCY_MARKS = {  # ISO code, symbol, then the words
    "EUR": ["EUR", "€", "euro"],
    "USD": ["USD", "$", "dollar"],
    "GBP": ["GBP", "£", "pound"],
    "CHF": ["CHF", "Fr.", "franc"],
}


@pytest.mark.parametrize("split", ORDER_SPLITS)
def test_every_order_answer_can_be_read_from_its_text(split):
    """The customer and item names as written, the SKU (maybe spaced, lower-cased or without its
    hyphen), the year, the currency (and no other's code or symbol), and a total that is the sum
    of the lines."""
    for c in load_dataset("orders-json", split=split):
        text, answer = c[1]["content"], json.loads(c[-1]["content"])
        squashed = re.sub(r"[\s.-]", "", text.upper())
        assert answer["customer"] in text, text
        assert answer["order_date"][:4] in text, text
        marks = {
            code: CURRENCY_MARKS[code] for code in CURRENCY_MARKS if code != answer["currency"]
        }
        assert any(m.lower() in text.lower() for m in CURRENCY_MARKS[answer["currency"]]), text
        assert not any(m in text for ms in marks.values() for m in ms[:2]), text  # codes, symbols
        for item in answer["items"]:
            assert item["name"] in text and item["sku"].replace("-", "") in squashed, (item, text)
        lines = sum(i["quantity"] * i["unit_price"] for i in answer["items"])
        assert round(lines, 2) == answer["total"], text


@pytest.mark.parametrize("split", ["train", "eval"])
def test_generated_orders_write_day_month_dates_only_when_unambiguous(split):
    slashed = re.compile(r"(?<![\d/])(\d{1,2})[/-](\d{1,2})[/-](\d{4})\b")
    seen = 0
    for c in load_dataset("orders-json", split=split):
        for a, b, _ in slashed.findall(c[1]["content"]):
            seen += 1
            assert max(int(a), int(b)) > 12, c[1]["content"]
    assert seen > 0


def test_support_tone_replies_follow_the_style_file():
    style = json.loads((SAMPLES_DIR / "support-tone" / "style.json").read_text())
    for c in load_dataset("support-tone"):
        reply = c[-1]["content"]
        assert reply.startswith(style["greeting"]) and reply.endswith(style["sign_off"])
        assert len(reply.split()) <= style["max_words"]
        assert not any(b in reply.lower() for b in style["banned_phrases"])


def test_product_jargon_eval_asks_known_facts_in_new_words():
    train = load_dataset("product-jargon")
    answers = {c[-1]["content"] for c in train}
    questions = {c[0]["content"] for c in train}
    for c in load_dataset("product-jargon", split="eval"):
        assert c[-1]["content"] in answers and c[0]["content"] not in questions


def test_messy_support_loads_all_but_the_planted_malformed_line():
    planted = json.loads((SAMPLES_DIR / "messy-support" / "planted.json").read_text())
    malformed = [p["line"] for p in planted["problems"] if p["kind"] == "malformed_json"]
    ds = load_dataset("messy-support")
    assert [p.line for p in ds.problems] == malformed
    assert len(ds) == planted["train_lines"] - 1


@pytest.mark.slow  # subprocesses
def test_make_samples_check_matches_and_detects_drift(tmp_path):
    script = [sys.executable, str(REPO / "scripts" / "make_samples.py")]
    env = {**os.environ, "PYTHONHASHSEED": "12345"}  # output must not depend on hash order
    assert subprocess.run([*script, "--check"], capture_output=True, env=env).returncode == 0
    out = tmp_path / "samples"
    subprocess.run([*script, "--out", str(out)], check=True, capture_output=True)
    assert (
        subprocess.run([*script, "--check", "--out", str(out)], capture_output=True).returncode == 0
    )
    with open(out / "orders-json" / "eval.jsonl", "a") as f:
        f.write("{}\n")
    proc = subprocess.run([*script, "--check", "--out", str(out)], capture_output=True, text=True)
    assert proc.returncode == 1 and "orders-json/eval.jsonl" in proc.stderr
