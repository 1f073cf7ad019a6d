"""PII misses and false alarms found in review, and template siblings that are not duplicates."""

from __future__ import annotations

import pytest

from workbench.data.dataset import ChatDataset, Provenance
from workbench.inspection.dedup import find_duplicates
from workbench.inspection.html import report_html
from workbench.inspection.pii import find_pii
from workbench.inspection.report import clean, inspect_dataset

# -- phones in national formats, no "+" and no keyword -------------------------------------------

NATIONAL_PHONES = [
    ("You can reach the London office on 020 7946 0958 after nine.", "020 7946 0958"),
    ("Berlin desk 0049 30 1234567 (weekdays).", "0049 30 1234567"),
    ("Texting 06-12345678 works best for her.", "06-12345678"),
    ("The shop (020) 7946 0958 opens at ten.", "(020) 7946 0958"),
    ("Paris: 01 23 45 67 89, ask for Marc.", "01 23 45 67 89"),
]


@pytest.mark.parametrize(("text", "value"), NATIONAL_PHONES)
def test_national_and_00_prefixed_phones_are_found(text, value):
    assert [(m.kind, m.text) for m in find_pii(text)] == [("phone", value)]


NOT_PHONES = [
    "Booked on 2024-01-15, paid on 15.01.2024, shipped 2024/01/16.",
    "On 01/15/2024 10:30 the parcel left; on 06-12-2024 it came back.",
    "Order 0481-2231-07 shipped; invoice no. 0012 3456 7890 is paid.",
    "Ticket #0815 4711 2233 and case 0123 4567 89 are closed.",
    "Serial SN 0042-1234-5678, lot 0042 1234 5678.",
    "It costs 0,99 EUR or 1.299,00 EUR; the total is 0.50 GBP.",
    "Open 09:00-17:30, lunch 12:00 - 13:00, last call 08 30.",
    "See ISBN 0-306-40615-2 and ISBN 978-3-16-148410-0 for details.",
    "Between 0 and 100 000 units, 0 800 pieces in 2024.",
    "Coordinates 051 234 56 and part 07-1234 fit.",
    "Write to 1 Main St, Boston, MA 02111-1301, USA.",  # a ZIP+4 code
]


@pytest.mark.parametrize("text", NOT_PHONES)
def test_dates_orders_prices_times_and_isbns_are_not_phones(text):
    assert find_pii(text, kinds=["phone"]) == []


# -- IBANs written in lower case -----------------------------------------------------------------


def test_lowercase_iban_is_found_and_still_checksummed():
    text = "refund to de89 3704 0044 0532 0130 00 please"
    assert [(m.kind, m.text) for m in find_pii(text)] == [("iban", "de89 3704 0044 0532 0130 00")]
    assert find_pii("refund to de89 3704 0044 0532 0130 01 please", kinds=["iban"]) == []
    assert [m.text for m in find_pii("nl91 abna 0417 1643 00.")] == ["nl91 abna 0417 1643 00"]


def test_lowercase_prose_is_not_an_iban():
    text = "ab12 is a great model name and so is xy99 then we go on with the text"
    assert find_pii(text, kinds=["iban"]) == []


def test_an_iban_after_a_look_alike_token_is_still_found():
    text = "code ab12 DE89 3704 0044 0532 0130 00"
    assert [m.text for m in find_pii(text, kinds=["iban"])] == ["DE89 3704 0044 0532 0130 00"]


# -- version strings and private addresses are not IP addresses of a person ----------------------

NOT_IPS = [
    "Please upgrade to version 1.2.3.4 before Friday.",
    "Firmware v 2.0.1.7 and build 10.4.2.1 fix it; release 4.4.0.1 too.",
    "Section 1.2.3.4.5 of the manual, or 0.1.2.3.4.",
    "As section 8.4.1.3 and § 2.4.8.19 of the standard say.",
    "The router at 10.0.0.1 rebooted; the printer is 192.168.1.20.",
    "VPN pool 172.16.5.4, carrier NAT 100.64.0.9, link-local 169.254.10.1.",
    "Netmask 255.255.255.0, multicast 224.0.0.251, ULA fd12:3456:789a::1, fe80::1.",
]


@pytest.mark.parametrize("text", NOT_IPS)
def test_versions_and_private_addresses_are_not_reported(text):
    assert find_pii(text, kinds=["ip_address"]) == []


def test_public_addresses_are_still_reported():
    text = "Login from 81.2.69.160 and 2a00:1450:4001:82b::200e failed."
    assert [m.text for m in find_pii(text)] == ["81.2.69.160", "2a00:1450:4001:82b::200e"]


# -- template siblings ---------------------------------------------------------------------------

KETTLE = (
    "Ticket {n}: my kettle stopped heating after two weeks of light use and the light on the "
    "base no longer comes on when I switch it on in the morning, what should I do now?"
)
ANSWER = (
    "Sorry about ticket {n}. Please unplug the kettle, wait ten minutes and try again; if the "
    "light stays off we will send you a replacement base free of charge."
)
COURIER = (
    "The courier left my parcel at the wrong door again yesterday and my neighbour says "
    "it is not there, so I have no idea where my order went or who has it now."
)


def chat(user: str, answer: str) -> list[dict]:
    return [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]


def make(rows: list[list[dict]]) -> ChatDataset:
    return ChatDataset(conversations=rows, provenance=Provenance(source="<test>", format="chat"))


@pytest.fixture
def siblings() -> ChatDataset:
    reply = "We are sorry; we will find the parcel and call you back within two working days."
    return make(
        [
            chat(KETTLE.format(n=48213), ANSWER.format(n=48213)),  # 1
            chat(KETTLE.format(n=48214), ANSWER.format(n=48214)),  # 2: differs only in the ticket
            chat(COURIER, reply),  # 3
            chat(COURIER.replace("yesterday", "on monday"), reply),  # 4: a genuine near copy of 3
            chat(KETTLE.format(n="MS-90211"), ANSWER.format(n="MS-90211")),  # 5: another ticket id
        ]
    )


def test_rows_differing_only_in_a_ticket_number_are_template_siblings(siblings):
    clusters = find_duplicates(siblings.conversations)
    assert [(c.members, c.exact, c.siblings) for c in clusters] == [
        ([0, 1, 4], False, True),
        ([2, 3], False, False),
    ]


def test_siblings_get_their_own_finding_and_are_not_dropped(siblings):
    report = inspect_dataset(siblings, tokenizer_or_model=None)
    kinds = {(f.row, f.kind) for f in report.findings if f.row is not None}
    assert kinds == {(2, "template_sibling"), (5, "template_sibling"), (4, "near_duplicate")}
    sib = report.findings_for(row=2)[0]
    assert sib.severity == "info" and "differ only in numbers/IDs" in sib.message
    assert sib.detail["sibling_of"] == 1
    dup = report.duplicates
    assert (dup["near_clusters"], dup["sibling_clusters"], dup["rows_duplicated"]) == (1, 1, 1)
    assert dup["template_siblings"][0]["rows"] == [1, 2, 5]
    assert [c["rows"] for c in dup["clusters"]] == [[3, 4]]
    html = report_html(report)
    assert "template_sibling" in html and "template-sibling clusters" in html
    kept = clean(siblings, report=report, redact_pii=False).dataset
    assert kept.row_ids == [1, 2, 3, 5]  # the near copy goes, the siblings stay


def test_copies_that_differ_in_words_and_numbers_stay_near_duplicates(siblings):
    edited = KETTLE.format(n=48215).replace("two weeks", "three weeks")
    rows = [*siblings.conversations[:1], chat(edited, ANSWER.format(n=48215))]
    clusters = find_duplicates(rows)
    assert [(c.members, c.siblings) for c in clusters] == [([0, 1], False)]
