"""Diversity metrics: skeletons, distinct-n, template clusters, and the template_like finding."""

from __future__ import annotations

import json

import pytest

from workbench.data.dataset import ChatDataset, Provenance, load_dataset
from workbench.inspection.diversity import (
    distinct_n,
    diversity_summary,
    skeleton,
    template_ids,
)
from workbench.inspection.report import DatasetReport, inspect_dataset


def make(prompts: list[str]) -> ChatDataset:
    rows = [
        [{"role": "user", "content": p}, {"role": "assistant", "content": "Done."}] for p in prompts
    ]
    return ChatDataset(conversations=rows, provenance=Provenance(source="<test>", format="chat"))


NAMES = ["Ann Lee", "Bo Chan", "Cara Diaz", "Dev Patel", "Eli Stone"]


def two_templates() -> list[str]:
    rows = []
    for i in range(10):
        rows.append(
            f"Please send {i + 2} units of SKU-{100 + i} to {NAMES[i % 5]} "
            f"by 2026-0{i % 9 + 1}-1{i % 9}."
        )
        rows.append(f"What is the price of item AB-{300 + i * 7} in EUR {i * 3 + 1},50 today?")
    return rows


VARIED = [
    "My kettle stopped heating after two weeks of light use.",
    "The courier left my parcel at the wrong door again yesterday.",
    "I was charged twice for the same blender order last month.",
    "The app logs me out every few minutes since the update.",
    "Loyalty points vanished after I changed my address.",
    "Does the bike light hold a charge overnight, or should I return it?",
    "Can you recommend a good book about gardening in clay soil?",
    "Why does my bread collapse when it cools down on the rack?",
    "Explain how tides are caused by the moon in simple words.",
    "Write a short poem about autumn rain on city streets.",
    "How should I prepare for a job interview at a small bakery?",
    "What are the rules of chess castling, briefly?",
    "Translate good morning into Spanish and French for me.",
    "Summarise the plot of a heist film in three sentences.",
    "Is it safe to leave a laptop charging all night long?",
    "Suggest a weekend hiking route near a lake with easy slopes.",
    "My cat ignores her new food bowl; any ideas why that happens?",
    "Give me a packing list for a rainy camping trip with kids.",
    "How do I remove a red wine stain from a wool carpet?",
    "Compare buying and leasing a car for someone who drives little.",
]


def test_skeleton_masks_the_slots_of_a_template():
    a = skeleton("Send 5 units of BTL-058 to Ann Lee by 2026-06-15, total $12.50. Mail a@b.org")
    b = skeleton("Send  12 units of CSH-9 to Bo   Chan by 3 March 2025, total $7. Mail x.y@z.com")
    assert a == b == "send <num> units of <code> to <name> by <date>, total <money>. mail <email>"
    assert skeleton("Price: 1.234,50 EUR or 3,5 kg") == "price: <money> or <num> kg"


def test_distinct_n_exact_values():
    assert distinct_n(["a b a b"], 1) == 2 / 4
    assert distinct_n(["a b a b"], 2) == 2 / 3  # (a b), (b a), (a b)
    assert distinct_n(["a b", "A c"], 1) == 3 / 4  # lower-cased: a, b, c
    assert distinct_n(["one"], 2) == 0.0  # no bigrams at all


def test_two_templates_collapse_and_are_flagged():
    ds = make(two_templates())
    summary = diversity_summary(ds)
    assert summary["rows"] == 20 and summary["templates"] == 2 and summary["clusters"] == 2
    assert summary["top10_share"] == 1.0 and summary["top10_cluster_share"] == 1.0
    assert summary["template_like"] is True
    assert [t["count"] for t in summary["top_templates"]] == [10, 10]
    assert [t["example_index"] for t in summary["top_templates"]] == [0, 1]
    assert template_ids(ds) == [0, 1] * 10


def test_varied_sentences_are_not_template_like():
    summary = diversity_summary(make(VARIED))
    assert summary["templates"] == 20 and summary["clusters"] >= 18
    assert summary["template_like"] is False
    assert summary["distinct_2"] > 0.9


def test_too_few_rows_are_never_template_like():
    assert diversity_summary(make(two_templates()[:10]))["template_like"] is False


# today's generator before issue 13, in miniature: eight sentence templates, slots filled in
OLD_ORDER_TEMPLATES = [
    "Order from {c} on {d}: {i}. Total: {t}.",
    "Hi, this is {c}. On {d} we would like to order {i}. That comes to {t}.",
    "INVOICE\nBill to: {c}\nDate: {d}\n{l}\nTotal due: {t}",
    "Please send {i} to {c}. Dated {d}. Amount: {t}.",
    "{c} placed an order ({d}) for {i}; grand total {t}.",
    "Purchase order - {c} - {d}\n{l}\nTOTAL {t}",
    "Hello team, {c} here. We need {i}. Order date {d}, total {t}. Thanks!",
    "Receipt for {c}\n{d}\n{l}\nPaid: {t}",
]


def old_style_orders(n: int = 48) -> list[str]:
    customers = ["Bramblewick Bakery", "Quillon Ltd", "Tidewater GmbH", "Larkspur Studio"]
    names = ["Desk Lamp", "Wall Clock", "Green Tea Tin"]
    rows = []
    for k in range(n):
        sku, name, q = f"LMP-{200 + k}", names[k % 3], k % 9 + 1
        slots = {
            "c": customers[k % 4],
            "d": f"2025-{k % 12 + 1:02d}-{k % 27 + 1:02d}",
            "t": f"€{q * 12.5:.2f}",
            "i": f"{q} x {name} ({sku}) at €12.50 each",
            "l": f"- {sku} {name} x{q} @ €12.50",
        }
        rows.append(OLD_ORDER_TEMPLATES[k % 8].format(**slots))
    return rows


def test_old_style_orders_are_template_like():
    summary = diversity_summary(make(old_style_orders()))
    assert summary["rows"] == 48 and summary["templates"] == 8
    assert summary["clusters"] == 7  # the "Purchase order" and "Receipt for" forms are one cluster
    assert summary["top10_cluster_share"] == 1.0 and summary["template_like"] is True


@pytest.fixture(scope="module")
def orders():
    return load_dataset("orders-json")


def _sharing_train_templates(train, rows) -> int:
    """How many of `rows` fall into a template cluster that also holds a training row."""
    both = ChatDataset(
        conversations=train.conversations + rows.conversations,
        provenance=Provenance(source="<train + rows>", format="chat"),
    )
    ids = template_ids(both)
    seen = set(ids[: len(train)])
    return sum(i in seen for i in ids[len(train) :])


def test_orders_json_sample_is_varied(orders):
    # its speed is measured, not asserted: benchmarks/inspect_speed.py (inspection runs it)
    summary = diversity_summary(orders)
    assert summary["rows"] == 400
    assert summary["template_like"] is False
    # 398 clusters of 400 rows, the 10 largest cover 0%, distinct-2 0.69 when written
    assert summary["clusters"] >= 0.9 * summary["rows"]
    assert summary["top10_cluster_share"] < 0.1 and summary["distinct_2"] > 0.6
    ids = template_ids(orders)
    assert len(ids) == 400 and len(set(ids)) == summary["clusters"]


def test_orders_json_eval_and_handwritten_rows_rarely_share_a_training_template(orders):
    shipped = load_dataset("orders-json", split="eval")
    assert _sharing_train_templates(orders, shipped) <= 0.1 * len(shipped)  # 1 of 60 when written
    handwritten = load_dataset("orders-json", split="handwritten")
    assert _sharing_train_templates(orders, handwritten) == 0


def test_the_handwritten_orders_are_each_their_own_template():
    summary = diversity_summary(load_dataset("orders-json", split="handwritten"))
    assert summary["rows"] == summary["templates"] == summary["clusters"] == 28
    assert summary["template_like"] is False and summary["distinct_2"] > 0.95


def test_inspect_puts_the_finding_in_the_report_and_it_round_trips(orders, tmp_path):
    assert inspect_dataset(orders, tokenizer_or_model=None).findings_for(kind="template_like") == []
    report = inspect_dataset(make(old_style_orders()), tokenizer_or_model=None)
    found = report.findings_for(kind="template_like")
    assert len(found) == 1 and found[0].severity == "warning" and found[0].row is None
    assert "split that keeps whole templates out of training" in found[0].message
    assert "diversity" in report.seconds
    assert any("templates in" in line for line in report.summary_lines())
    report.save(tmp_path)
    html = (tmp_path / "report.html").read_text()
    assert "Diversity of the prompts" in html and "Template-like" in html
    loaded = DatasetReport.from_dict(json.loads((tmp_path / "report.json").read_text()))
    assert loaded.diversity == report.diversity and loaded == report


def test_a_report_saved_before_diversity_still_loads(orders, tmp_path):
    data = inspect_dataset(orders, tokenizer_or_model=None).to_dict()
    del data["diversity"]
    loaded = DatasetReport.from_dict(data)
    assert loaded.diversity is None
    assert loaded.summary_lines()  # and reads without it
    from workbench.inspection.html import report_html

    assert "Diversity" not in report_html(loaded)
