"""Offline PII detection: each kind found, checksums respected, look-alikes left alone, redaction typed."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbench.data.dataset import SAMPLES_DIR
from workbench.inspection.pii import KINDS, PLACEHOLDERS, find_pii, iban_valid, luhn_valid, redact

POSITIVES = [
    (
        "Write to jane.doe+shop@mail.example.co.uk today",
        "email",
        "jane.doe+shop@mail.example.co.uk",
    ),
    ("Call me on +44 20 7946 0958 after six", "phone", "+44 20 7946 0958"),
    ("my cell is (415) 555-0132.", "phone", "(415) 555-0132"),
    ("Mobile: 0151 234 5678", "phone", "0151 234 5678"),
    ("refund to DE89 3704 0044 0532 0130 00 please", "iban", "DE89 3704 0044 0532 0130 00"),
    ("IBAN GB82WEST12345698765432.", "iban", "GB82WEST12345698765432"),
    ("card 4111 1111 1111 1111 expired", "credit_card", "4111 1111 1111 1111"),
    ("amex 3782-822463-10005", "credit_card", "3782-822463-10005"),
    ("blocked IP 203.0.113.7.", "ip_address", "203.0.113.7"),
    ("from 2001:db8::8a2e:370:7334 again", "ip_address", "2001:db8::8a2e:370:7334"),
    ("SSN 123-45-6789 on file", "us_ssn", "123-45-6789"),
    ("key AKIAIOSFODNN7EXAMPLE leaked", "secret", "AKIAIOSFODNN7EXAMPLE"),
    ("password: hunter2hunter2", "secret", "password: hunter2hunter2"),
    (
        "db at postgres://admin:s3cret@db.internal:5432/x",
        "secret",
        "postgres://admin:s3cret@db.internal:5432",
    ),
]

NEGATIVES = [
    "Order MS-4821 of 2024-05-19 totals 1039.95 EUR for 3 units of BTL-058.",
    "Invoice 20240519-0042, qty 12, SKU CLK-330, ref 4111111111111112.",  # fails Luhn
    "Version 1.2.3 of the app, build 2024.05.19, code E404.",
    "Meet at 10:30, room 3-101, floor 12, phone charger model X-200.",
    "Account DE89 3704 0044 0532 0130 01 (bad check digits).",
    "Localhost 127.0.0.1 and 0.0.0.0 are not anybody's address.",
    "SSN-like 000-12-3456 and 666-12-3456 are never issued.",
    "Grand total 360.00 CHF; 7 x Canvas Tote at GBP 50.50 each.",
    "Batch 4821 of 9999, step 17: retried 3 times at 12:04:59.",
]


@pytest.mark.parametrize(("text", "kind", "value"), POSITIVES)
def test_each_kind_is_found(text, kind, value):
    matches = find_pii(text)
    assert [(m.kind, m.text) for m in matches] == [(kind, value)]
    m = matches[0]
    assert text[m.start : m.end] == value


@pytest.mark.parametrize("text", NEGATIVES)
def test_look_alikes_are_not_reported(text):
    assert find_pii(text) == []


def test_all_kinds_covered_by_the_examples():
    assert {kind for _, kind, _ in POSITIVES} == set(KINDS)


def test_redact_uses_typed_placeholders_and_keeps_the_rest():
    text = "Mail a@example.com or call +44 20 7946 0958; card 4111 1111 1111 1111."
    assert redact(text) == "Mail [EMAIL] or call [PHONE]; card [CARD]."
    assert find_pii(redact(text)) == []
    assert redact(text, kinds=["email"]) == text.replace("a@example.com", PLACEHOLDERS["email"])


def test_unknown_kind_is_rejected():
    with pytest.raises(ValueError, match="Unknown PII kind"):
        find_pii("x", kinds=["passport"])


def test_masked_value_hides_all_but_the_tail():
    m = find_pii("card 4111 1111 1111 1111")[0]
    assert m.masked.endswith("11") and "4111" not in m.masked


@given(st.lists(st.integers(0, 9), min_size=12, max_size=18))
def test_luhn_check_digit_round_trip(body):
    digits = "".join(map(str, body))
    valid = [d for d in "0123456789" if luhn_valid(digits + d)]
    assert len(valid) == 1  # exactly one check digit makes it valid
    card = "4" + digits[1:] + valid[0] if luhn_valid("4" + digits[1:] + valid[0]) else None
    if card and 13 <= len(card) <= 19:
        assert [m.kind for m in find_pii(f"paid with {card} yesterday")] == ["credit_card"]


@given(st.text(alphabet="0123456789", min_size=18, max_size=18))
def test_generated_german_ibans_validate_and_one_digit_off_does_not(bban):
    check = 98 - int(bban + "131400") % 97
    iban = f"DE{check:02d}{bban}"
    assert iban_valid(iban)
    wrong = iban[:-1] + str((int(iban[-1]) + 1) % 10)
    assert not iban_valid(wrong)
    assert [m.kind for m in find_pii(f"pay {iban} now")] == ["iban"]


def _sample_texts(name: str):
    for path in sorted((SAMPLES_DIR / name).glob("*.jsonl")):  # orders-json: handwritten too
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            for message in row.get("messages", []):
                yield message["content"]


@pytest.mark.parametrize("name", ["orders-json", "support-tone", "product-jargon"])
def test_clean_samples_have_no_pii(name):
    assert [m for text in _sample_texts(name) for m in find_pii(text)] == []


def test_messy_support_pii_matches_what_was_planted():
    planted = json.loads((SAMPLES_DIR / "messy-support" / "planted.json").read_text())["problems"]
    kind_names = {
        "email": "email",
        "phone": "phone",
        "iban": "iban",
        "card": "credit_card",
        "ipv4": "ip_address",
    }
    expected = sorted(
        (kind_names[p["kind"]], p["value"]) for p in planted if p["kind"] in kind_names
    )
    found = sorted(
        (m.kind, m.text) for text in _sample_texts("messy-support") for m in find_pii(text)
    )
    assert found == expected
