"""Inspection of labelled data: class balance, rare classes, label noise, leakage, PII, the HTML."""

from __future__ import annotations

import json

import pytest

from workbench.data.labelled import load_labelled
from workbench.inspection.html import report_html
from workbench.inspection.labels import LabelSummary
from workbench.inspection.report import DatasetReport, inspect_dataset
from workbench.rundir import decode

TOPICS = {
    "shipping": "my parcel {n} has not arrived yet and the tracking page shows nothing new",
    "refund": "I sent the blender back last week and would like my money returned to the card",
    "login": "the password reset link expired again so I still cannot get into my account",
}


def rows(n_per_label: int = 12) -> list[dict[str, str]]:
    """Distinct texts per label: the topic sentence plus a varying tail."""
    tails = ["today", "please help", "this is urgent", "thanks", "any news", "as soon as possible"]
    out = []
    for label, text in TOPICS.items():
        for i in range(n_per_label):
            tail = f"{tails[i % len(tails)]} {'again ' * (i // len(tails))}".strip()
            out.append({"text": f"{text.format(n=1000 + i)} {tail}", "label": label})
    return out


def inspect(train, **kwargs) -> DatasetReport:
    return inspect_dataset(train, tokenizer_or_model=None, **kwargs)


def test_support_intent_balance_and_rare_classes():
    report = inspect("support-intent", eval_ds="support-intent")
    lb = report.labels
    assert report.format == "labelled" and report.rows == 800 and not report.has_errors
    assert lb.counts["shipping_delay"] == 240 and lb.counts["feature_question"] == 28
    assert lb.imbalance_ratio == pytest.approx(240 / 28, abs=0.01) and lb.rare == [
        "feature_question"
    ]
    assert lb.eval_counts["feature_question"] == 7 and sum(lb.eval_counts.values()) == 200
    assert lb.noise_rows == 0 and report.leakage["exact"] == report.leakage["near"] == 0
    assert report.rows_with_pii == 0 and lb.length_unit == "words"
    (rare,) = report.findings_for(kind="rare_class")
    assert "'feature_question'" in rare.message and "28 row(s)" in rare.message
    assert report.kind_counts() == {"class_imbalance": 1, "rare_class": 1}  # no copies, no noise
    assert not report.diversity["template_like"]


def test_identical_and_near_texts_with_different_labels_are_noise_candidates():
    data = rows()
    data.append({"text": data[0]["text"], "label": "refund"})  # identical text, other label
    near = data[13]["text"] + " now"  # a refund text, labelled login
    data.append({"text": near, "label": "login"})
    report = inspect(data)
    conflicts = {f.row: f for f in report.findings_for(kind="label_conflict")}
    assert set(conflicts) == {len(data) - 1, len(data)}, report.summary_lines()
    exact, near_f = conflicts[len(data) - 1], conflicts[len(data)]
    assert exact.detail == {"other_row": 1, "other_label": "shipping", "exact": True}
    assert (
        "'refund'" in exact.message
        and "row 1" in exact.message
        and "fix the label" in exact.message
    )
    assert near_f.detail["other_label"] == "refund" and not near_f.detail["exact"]
    assert near_f.detail["other_row"] == 13  # the first row carrying the cluster's label
    assert report.labels.noise_rows == 2 and report.labels.noise_clusters == 2


def test_train_eval_leaks_are_found_exact_and_near():
    train = rows()
    eval_ = [
        {"text": train[5]["text"], "label": "shipping"},  # exact copy of train row 6
        {"text": train[20]["text"].replace("blender", "kettle"), "label": "refund"},  # near
        {"text": "does the lamp work with a 110V socket", "label": "login"},
    ]
    report = inspect(train, eval_ds=eval_)
    assert [f.row for f in report.findings_for(kind="eval_leak_exact")] == [6]
    assert 21 in [f.row for f in report.findings_for(kind="eval_leak_near")]
    leak = report.findings_for(kind="eval_leak_exact")[0]
    assert leak.field == "text" and leak.severity == "error" and leak.detail["eval_row"] == 1
    assert report.leakage["exact"] == 1 and report.has_errors


def test_eval_labels_the_training_set_lacks_are_errors():
    train = rows()
    eval_ = [{"text": "where can I change my billing address", "label": "address"}, *rows(1)]
    report = inspect(train, eval_ds=eval_)
    (unknown,) = report.findings_for(kind="eval_unknown_label")
    assert unknown.severity == "error" and "'address'" in unknown.message


def test_planted_email_is_personal_data_on_the_text_field():
    data = rows()
    data[7] = {"text": "please write to jane.roe@example.com about my parcel", "label": "shipping"}
    report = inspect(data)
    (found,) = report.pii_findings
    assert found.row == 8 and found.field == "text" and found.detail["label"] == "shipping"
    assert report.pii_counts["email"] == 1 and report.has_errors


def test_rare_and_empty_classes_and_token_lengths(tiny_model_dir):
    data = rows() + [{"text": "is the blender dishwasher safe", "label": "question"}]
    ds = load_labelled(data, labels=["shipping", "refund", "login", "question", "other"])
    report = inspect_dataset(ds, tokenizer_or_model=tiny_model_dir, max_length=12)
    lb = report.labels
    assert lb.rare == ["question"] and lb.empty == ["other"] and lb.length_unit == "tokens"
    assert report.findings_for(kind="empty_class")[0].detail == {"label": "other"}
    assert lb.truncated_rows == len(report.findings_for(kind="truncated")) > 0
    assert lb.lengths["max"] > 12 and set(lb.lengths_by_label) == {
        "shipping",
        "refund",
        "login",
        "question",
    }


def test_the_html_shows_the_class_balance_and_the_json_loads_back(tmp_path):
    report = inspect("support-intent")
    page = report_html(report)
    assert "<h4>Class balance</h4>" in page and "feature_question" in page and "rare" in page
    assert "label-noise candidates" in page
    json_path, _ = report.save(tmp_path)
    data = json.loads(json_path.read_text())
    loaded = decode(DatasetReport, data)
    assert isinstance(loaded.labels, LabelSummary) and loaded.labels == report.labels
    del data["labels"]  # a report saved before labelled data existed still loads
    assert decode(DatasetReport, data).labels is None


def test_chat_data_is_not_inspected_as_labelled():
    report = inspect("support-tone")
    assert report.labels is None and report.format == "chat"
