"""Dataset report, cleaning, CLI gate and the browser widget, on small built data and the samples."""

from __future__ import annotations

import copy
import json

import pytest

from workbench.cli import main as cli_main
from workbench.data.dataset import SAMPLES_DIR, ChatDataset, Provenance, load_dataset
from workbench.errors import DataError
from workbench.inspection.report import clean, inspect_dataset


def chat(user: str, answer: str | None = "Sure, happy to help with that today.") -> list[dict]:
    conv = [{"role": "user", "content": user}]
    return conv if answer is None else [*conv, {"role": "assistant", "content": answer}]


def make(conversations: list[list[dict]], source: str = "<test>") -> ChatDataset:
    return ChatDataset(
        conversations=conversations, provenance=Provenance(source=source, format="chat")
    )


TOPICS = [
    "my kettle stopped heating after two weeks of light use",
    "the courier left my parcel at the wrong door again yesterday",
    "I was charged twice for the same blender order last month",
    "the app logs me out every few minutes since the update",
    "my loyalty points vanished after I changed my address",
    "the bike light I bought does not hold a charge overnight",
]


@pytest.fixture
def messy() -> ChatDataset:
    rows = [
        chat(t, f"Sorry to hear that {t.split()[1]} trouble; a fix is on its way.") for t in TOPICS
    ]
    rows += [
        copy.deepcopy(rows[0]),  # 7: exact copy of row 1
        chat(TOPICS[1].upper() + "!", rows[1][1]["content"]),  # 8: near copy of row 2
        chat("Where is my order?", ""),  # 9: empty answer
        chat("   ", "Could you tell me more?"),  # 10: whitespace-only user turn
        [{"role": "assistant", "content": "Hi"}, {"role": "user", "content": "Hello"}],  # 11
        chat("Anything else?", None),  # 12: no answer
        chat("Mail me at ann.lee@example.org about it", "Will do, thanks for the address."),  # 13
    ]
    return make(rows)


def kinds_by_row(report) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for f in report.findings:
        out.setdefault(f.row, set()).add(f.kind)
    return out


def test_each_problem_is_found_on_its_row(messy):
    report = inspect_dataset(messy, tokenizer_or_model=None)
    found = kinds_by_row(report)
    assert found.pop(None) == {"no_tokenizer"}
    assert found == {
        7: {"exact_duplicate"},
        8: {"near_duplicate"},
        9: {"empty_turn"},
        10: {"empty_turn"},
        11: {"role_order", "no_final_assistant"},
        12: {"no_final_assistant"},
        13: {"pii"},
    }
    dup = report.findings_for(kind="exact_duplicate")[0]
    assert dup.detail["duplicate_of"] == 1 and dup.severity == "warning"
    assert report.findings_for(kind="pii")[0].detail["pii_kind"] == "email"
    assert report.pii["counts"]["email"] == 1 and report.pii["rows"] == {"email": [13]}
    assert report.has_errors
    assert report.counts["rows"] == 13 and report.counts["roles"]["assistant"] == 12


def test_findings_name_the_field_and_say_what_to_do(messy):
    report = inspect_dataset(messy, tokenizer_or_model=None)
    empty = report.findings_for(row=9)[0]
    assert empty.field == "messages[1].content" and "assistant" in empty.message
    assert "drop the row" in empty.message
    order = report.findings_for(row=11, kind="role_order")[0]
    assert order.field == "messages[0].role" and "'user' was expected" in order.message


def test_leakage_exact_and_near(messy):
    eval_ds = make(
        [
            copy.deepcopy(messy[2]),
            chat(TOPICS[3] + " Thanks", messy[3][1]["content"]),
            chat("Completely unrelated question about tax forms", "Here is how."),
        ]
    )
    report = inspect_dataset(messy, tokenizer_or_model=None, eval_ds=eval_ds)
    leaks = {
        (f.row, f.kind, f.detail["eval_row"])
        for f in report.findings
        if f.kind.startswith("eval_leak")
    }
    assert leaks == {(3, "eval_leak_exact", 1), (4, "eval_leak_near", 2)}
    assert report.leakage["exact"] == 1 and report.leakage["near"] == 1


def test_pii_severity_is_a_policy_choice(messy):
    report = inspect_dataset(make([messy[12]]), tokenizer_or_model=None, pii_severity="warning")
    assert not report.has_errors and report.findings_for(kind="pii")[0].severity == "warning"
    with pytest.raises(DataError, match="pii_severity"):
        inspect_dataset(messy, tokenizer_or_model=None, pii_severity="fatal")


def test_token_lengths_truncation_and_mask_preview(tiny_model_dir):
    long_answer = " ".join(["word"] * 300)
    ds = make([chat("short question", "short answer"), chat("long one", long_answer)])
    report = inspect_dataset(ds, tokenizer_or_model=str(tiny_model_dir), max_length=64)
    lg = report.lengths
    assert lg["per_example"][0] < 64 < lg["per_example"][1]
    assert lg["truncated_rows"] == 1 and lg["share_truncated"] == 0.5
    trunc = report.findings_for(kind="truncated")
    assert [f.row for f in trunc] == [2] and trunc[0].detail["answer_tokens_lost"] > 250
    assert 0.9 < lg["share_answer_tokens_lost"] < 1.0
    preview = report.preview
    assert preview["row"] == 1
    assert [p for p, trained in preview["segments"] if trained] == ["short answer<|im_end|>"]
    assert "You are a helpful assistant." in "".join(p for p, _ in preview["segments"])


def test_report_serialises_and_escapes_html(tmp_path, messy):
    messy.conversations[0][0]["content"] = "<script>alert(1)</script> " + TOPICS[0]
    report = inspect_dataset(messy, tokenizer_or_model=None)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["severity_counts"]["error"] == len(report.findings_for(severity="error"))
    assert len(data["findings"]) == len(report.findings)
    page = report._repr_html_()
    assert "<script>" not in page and "Findings" in page
    json_path, html_path = report.save(tmp_path / "inspect")
    assert json.loads(json_path.read_text())["fingerprint"] == messy.fingerprint()
    assert html_path.read_text().startswith("<!doctype html>")


def test_clean_drops_and_redacts_a_copy_only(tmp_path, messy):
    before = copy.deepcopy(messy.conversations)
    result = clean(messy)
    assert messy.conversations == before  # the source object is untouched
    kept = result.dataset.row_ids
    assert kept == [1, 2, 3, 4, 5, 6, 13]
    assert result.dataset[-1][0]["content"] == "Mail me at [EMAIL] about it"
    actions = {(a.row, a.action) for a in result.log}
    assert (7, "dropped") in actions and (13, "redacted") in actions
    assert result.to_dict()["rows_after"] == 7
    keep_dupes = clean(messy, drop_duplicates=False, drop_near_duplicates=False, redact_pii=False)
    assert 7 in keep_dupes.dataset.row_ids and 8 in keep_dupes.dataset.row_ids
    assert "ann.lee@example.org" in keep_dupes.dataset[-1][0]["content"]


def test_clean_saves_a_new_file_and_never_the_source(tmp_path):
    src = tmp_path / "train.jsonl"
    rows = [chat(t) for t in TOPICS] + [chat(TOPICS[0])]
    src.write_text("".join(json.dumps({"messages": r}) + "\n" for r in rows))
    original = src.read_bytes()
    ds = make([*rows], source=str(src))
    result = clean(ds)
    with pytest.raises(DataError, match="source"):
        result.save(src, overwrite=True)
    out = result.save(tmp_path / "train.clean.jsonl")
    assert src.read_bytes() == original
    assert len(out.read_text().splitlines()) == len(TOPICS)
    log = json.loads((tmp_path / "train.clean.clean_log.json").read_text())
    assert log["rows_before"] == 7 and log["rows_after"] == 6


def test_clean_drops_truncated_rows_only_with_lengths(messy, tiny_model_dir):
    with pytest.raises(DataError, match="needs token lengths"):
        clean(messy, drop_truncated=True)
    long = make([chat("short"), chat("long", " ".join(["word"] * 300))])
    report = inspect_dataset(long, tokenizer_or_model=str(tiny_model_dir), max_length=128)
    assert clean(long, report=report).dataset.row_ids == [1, 2]  # kept by default
    assert clean(long, report=report, drop_truncated=True).dataset.row_ids == [1]


def test_clean_refuses_a_report_of_another_dataset(messy):
    other = inspect_dataset(make([chat("x")]), tokenizer_or_model=None)
    with pytest.raises(DataError, match="different dataset"):
        clean(messy, report=other)


# -- the shipped samples -------------------------------------------------------------------------

# planted kind -> (finding kind, pii kind or None)
PLANTED_AS = {
    "empty_answer": ("empty_turn", None),
    "whitespace_answer": ("empty_turn", None),
    "wrong_role_order": ("role_order", None),
    "missing_final_assistant": ("no_final_assistant", None),
    "email": ("pii", "email"),
    "phone": ("pii", "phone"),
    "iban": ("pii", "iban"),
    "card": ("pii", "credit_card"),
    "ipv4": ("pii", "ip_address"),
    "over_long": ("truncated", None),
    "eval_leak_exact": ("eval_leak_exact", None),
    "eval_leak_near": ("eval_leak_near", None),
    "exact_duplicate": ("exact_duplicate", None),
    "near_duplicate": ("near_duplicate", None),
    "malformed_json": ("load_error", None),
}


@pytest.fixture(scope="module")
def messy_report(tiny_model_dir):
    return inspect_dataset(
        "messy-support",
        tokenizer_or_model=str(tiny_model_dir),
        max_length=512,
        eval_ds=load_dataset("messy-support", split="eval"),
    )


def test_messy_support_every_planted_problem_is_found(messy_report):
    planted = json.loads((SAMPLES_DIR / "messy-support" / "planted.json").read_text())["problems"]
    found = {(f.row, f.kind, f.detail.get("pii_kind")) for f in messy_report.findings}
    missing = [p for p in planted if (p["line"], *PLANTED_AS[p["kind"]]) not in found]
    assert missing == []
    for p in planted:  # the pointers are right too
        if "duplicate_of" in p:
            f = messy_report.findings_for(row=p["line"], kind=p["kind"])[0]
            assert f.detail["duplicate_of"] == p["duplicate_of"]
        if "eval_line" in p:
            f = messy_report.findings_for(row=p["line"], kind=p["kind"])[0]
            assert f.detail["eval_row"] == p["eval_line"]


def test_messy_support_reports_nothing_that_was_not_planted(messy_report):
    planted_lines = {
        p["line"]
        for p in json.loads((SAMPLES_DIR / "messy-support" / "planted.json").read_text())[
            "problems"
        ]
    }
    stray = [
        f for f in messy_report.findings if f.severity != "info" and f.row not in planted_lines
    ]
    assert stray == []


def test_orders_json_has_no_pii():
    report = inspect_dataset(
        "orders-json", tokenizer_or_model=None, eval_ds=load_dataset("orders-json", split="eval")
    )
    assert report.findings_for(kind="pii") == []
    assert sum(report.pii["counts"].values()) == 0


# -- CLI gate ------------------------------------------------------------------------------------


def test_cli_exits_1_on_errors_and_prints_a_summary(capsys, tiny_model_dir, tmp_path):
    code = cli_main(
        ["inspect", "messy-support", "--model", str(tiny_model_dir), "--out", str(tmp_path)]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "pii" in out and "error: line" in out
    assert (tmp_path / "report.json").is_file() and (tmp_path / "report.html").is_file()


def test_cli_exits_0_without_errors_and_json_parses(capsys, tmp_path):
    src = tmp_path / "ok.jsonl"
    src.write_text("".join(json.dumps({"messages": chat(t)}) + "\n" for t in TOPICS))
    code = cli_main(["inspect", str(src), "--model", "none", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert (
        code == 0
        and data["severity_counts"]["error"] == 0
        and data["counts"]["rows"] == len(TOPICS)
    )


def test_cli_unreadable_file_exits_2(capsys, tmp_path):
    assert cli_main(["inspect", str(tmp_path / "missing.jsonl"), "--model", "none"]) == 2


# -- duplicate and leak machinery against brute force ---------------------------------------------


def _random_chats(n: int, seed: int) -> list[list[dict]]:
    import random

    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(60)]
    rows: list[list[dict]] = []
    for _ in range(n):
        if rows and rng.random() < 0.15:  # a copy, sometimes edited a little
            conv = copy.deepcopy(rng.choice(rows))
            if rng.random() < 0.6:
                words = conv[0]["content"].split()
                words[rng.randrange(len(words))] = rng.choice(vocab)
                conv[0]["content"] = " ".join(words)
            rows.append(conv)
        else:
            rows.append(
                chat(
                    " ".join(rng.choices(vocab, k=rng.randint(3, 30))),
                    " ".join(rng.choices(vocab, k=rng.randint(1, 20))),
                )
            )
    return rows


def test_duplicates_and_leaks_match_brute_force():
    from workbench.inspection.dedup import (
        build_index,
        find_duplicates,
        find_leaks,
        jaccard,
        signatures,
    )

    rows = _random_chats(400, seed=1)
    train, eval_ = rows[:340], rows[340:]
    index = build_index(train, threshold=0.7)
    sets, keys = index.sigs.shingles, index.sigs.keys
    clusters = find_duplicates(train, index=index)
    # exact clusters: rows with identical content
    by_key: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        by_key.setdefault(key, []).append(i)
    assert sorted(c.members for c in clusters if c.exact) == sorted(
        g for g in by_key.values() if len(g) > 1
    )
    # near clusters: built from confirmed pairs only (no false ones); LSH may miss a borderline pair
    # (Jaccard near 0.7), but not a clear one
    reps = sorted(g[0] for g in by_key.values())
    near = [c.members for c in clusters if not c.exact]
    assert near, "the generator should make some near copies"
    for members in near:
        assert all(
            any(jaccard(sets[m], sets[o]) >= 0.7 for o in members if o != m) for m in members
        )
    cluster_of = {m: k for k, members in enumerate(near) for m in members}
    clear = [
        (i, j)
        for k, i in enumerate(reps)
        for j in reps[k + 1 :]
        if jaccard(sets[i], sets[j]) >= 0.8
    ]
    assert clear and all(
        i in cluster_of and cluster_of.get(i) == cluster_of.get(j) for i, j in clear
    )
    # leaks: only real ones, and every clear one
    eval_sets = signatures(eval_, vocab=index.sigs.vocab).shingles
    best = {i: max(jaccard(sets[i], e) for e in eval_sets) for i in range(len(train))}
    found = {leak.train for leak in find_leaks(train, eval_, index=index)}
    assert all(best[i] >= 0.7 for i in found)
    assert {i for i, sim in best.items() if sim >= 0.8} <= found and found
