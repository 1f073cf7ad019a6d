"""Offline personal-data detection and redaction: patterns plus checksums, no models, no network.

What it finds (kind -> placeholder):
  email         [EMAIL]    name@domain.tld
  phone         [PHONE]    +CC or 00CC numbers, national numbers with a trunk 0 written in groups
                           (020 7946 0958, 06-12345678), (555) 123-4567 style, or digits after
                           "phone"/"tel"/...; dates, times, ISBNs and numbers after "order",
                           "invoice", "ticket", ... are not phones
  iban          [IBAN]     country code + check digits + BBAN, valid ISO 13616 mod-97 checksum
                           (lower case too, when the country's length and a digit-heavy BBAN fit)
  credit_card   [CARD]     13-19 digits with a card-network prefix and a valid Luhn checksum
  ip_address    [IP]       public IPv4 and IPv6 addresses (validated by `ipaddress`); version
                           strings ("version 1.2.3.4") are no addresses, and private, loopback,
                           link-local and multicast ranges are left out: every network reuses
                           them, so on their own they point to no one
  us_ssn        [SSN]      123-45-6789 with the SSA's never-issued numbers excluded
  secret        [SECRET]   API keys (AWS, GitHub, Slack, OpenAI-style sk-), JWTs, private-key blocks,
                           credentials in URLs, "password: ..." pairs

What it cannot do offline: names, postal addresses and other free-text personal data need a
trained NER model; absence of findings is not proof of absence. Checksums (IBAN, Luhn) keep
order numbers and other long digit runs from being reported.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

PLACEHOLDERS = {
    "secret": "[SECRET]",
    "email": "[EMAIL]",
    "iban": "[IBAN]",
    "credit_card": "[CARD]",
    "us_ssn": "[SSN]",
    "ip_address": "[IP]",
    "phone": "[PHONE]",
}
KINDS = tuple(PLACEHOLDERS)  # also the priority order when two matches overlap


@dataclass(frozen=True)
class PiiMatch:
    """One piece of personal data found in a text: its kind and character span."""

    kind: str
    start: int
    end: int
    text: str

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def masked(self) -> str:
        """The value with all but its last two characters hidden, safe to show in a report."""
        keep = self.text[-2:] if len(self.text) > 6 else ""
        return "*" * (len(self.text) - len(keep)) + keep


# -- checksums -----------------------------------------------------------------------------------


def luhn_valid(digits: str) -> bool:
    """Luhn (mod 10) check used by payment card numbers."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """ISO 13616 check: move the first four characters to the end, letters to numbers, mod 97 == 1."""
    iban = iban.replace(" ", "").upper()
    if not 15 <= len(iban) <= 34 or not iban[:2].isalpha() or not iban[2:4].isdigit():
        return False
    if IBAN_LENGTHS.get(iban[:2], len(iban)) != len(iban):
        return False
    number = "".join(str(int(ch, 36)) for ch in iban[4:] + iban[:4])
    return int(number) % 97 == 1


# Lengths of the commonest IBAN countries; others only need the checksum.
IBAN_LENGTHS = {
    "AT": 20,
    "BE": 16,
    "CH": 21,
    "CZ": 24,
    "DE": 22,
    "DK": 18,
    "ES": 24,
    "FI": 18,
    "FR": 27,
    "GB": 22,
    "GR": 27,
    "IE": 22,
    "IT": 27,
    "LU": 20,
    "NL": 18,
    "NO": 15,
    "PL": 28,
    "PT": 25,
    "SE": 24,
}

CARD_PREFIX = re.compile(r"^(4|5[1-5]|2[2-7]|3[47]|3[068]|6011|65|64[4-9]|35)")


# -- detectors -----------------------------------------------------------------------------------

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
)
_IBAN = re.compile(r"\b[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]){11,30}\b")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_SSN = re.compile(r"(?<![\d-])(\d{3})-(\d{2})-(\d{4})(?![\d-])")
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d)")
_VERSION_BEFORE = re.compile(
    r"(?i)(?:\b(?:v|ver|version|release|build|firmware|fw|rev|revision|patch|section|sec|"
    r"chapter|clause|article|art|paragraph|para)\.?|§)\s*$"
)
# Not anybody's address: shared by every private network (RFC 1918, carrier NAT, IPv6 ULA);
# loopback, link-local, multicast, reserved and unspecified are checked through `ipaddress`.
_PRIVATE_NETS = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)
_IPV6 = re.compile(
    r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])"
)  # ipaddress validates
_PHONE_INTL = re.compile(r"(?<![\w+])\+[1-9]\d{0,2}(?:[ .\-/]?\(?\d{1,5}\)?){2,6}(?![\w])")
_PHONE_NANP = re.compile(r"(?<!\w)(?:\(\d{3}\) ?|\d{3}[-.])\d{3}[-.]\d{4}(?!\w)")
# national: a trunk 0 + area code, then groups; international: 00 + country code, then groups
_PHONE_NATIONAL = re.compile(
    r"(?<![\w+.,:/#-])(?<!\d[ /-])"  # not inside a word, a number or a longer digit run
    r"(00[1-9]\d{0,2}|\(0[1-9]\d{0,4}\)|0[1-9]\d{0,4})(?:[ /-]\d{2,8}){1,4}(?![\w/-]|[.,:]\d)"
)
_DAY_MONTH = r"(?:0?[1-9]|[12]\d|3[01])[-/.](?:0?[1-9]|1[0-2])"
_MONTH_DAY = r"(?:0?[1-9]|1[0-2])[-/.](?:0?[1-9]|[12]\d|3[01])"
_DATE = re.compile(
    rf"\b(?:{_DAY_MONTH}|{_MONTH_DAY})[-/.](?:19|20)\d\d\b|\b(?:19|20)\d\d[-/.]\d\d?[-/.]\d\d?\b"
)
_REFERENCE_BEFORE = re.compile(  # "order 0481-2231-07" is an order number, not a phone
    r"(?i)\b(?:order|invoice|inv|ref|reference|ticket|case|id|sku|isbn|issn|account|acct|"
    r"tracking|serial|sn|batch|lot|po|item|article|part|customer|contract|policy|booking|"
    r"confirmation|receipt|transaction|txn)\b[\s.:#-]*(?:no|nr|num|number|id)?[\s.:#-]*$"
)
_PHONE_CONTEXT = re.compile(
    r"(?i)\b(?:phone|tel|telephone|mobile|cell|call me|ring me|whatsapp|fax)\b[^\d\n]{0,20}"
    r"(\(?\d[\d ()./-]{5,18}\d)"
)
_SECRETS = [  # (pattern, lower-case substrings one of which must be present: a cheap pre-check)
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), ("akia", "asia")),  # AWS access key id
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"), ("gh",)),  # GitHub token
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b"), ("xox",)),  # Slack token
    (
        re.compile(r"\bsk-(?:proj-|live_|test_)?[A-Za-z0-9_-]{20,}\b"),
        ("sk-",),
    ),  # OpenAI / Stripe style
    (
        re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b"),
        ("eyj",),
    ),  # JWT
    (
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)"
        ),
        ("-----",),
    ),
    (
        re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s:/@]+:[^\s@/]+@[^\s/]+"),
        ("://",),
    ),  # credentials in a URL
    (
        re.compile(
            r"(?i)\b(?:password|passwd|pwd|api[_ -]?key|secret|token)\s*[:=]\s*[^\s,;\"']{6,}"
        ),
        ("pass", "pwd", "api", "secret", "token"),
    ),
]
_PHONE_WORDS = ("phone", "tel", "mobile", "cell", "call me", "ring me", "whatsapp", "fax")
_NOT_DIGITS = {ord(c): None for c in "0123456789"}


def _emails(text: str, digits: int) -> Iterable[tuple[int, int]]:
    if "@" not in text:
        return
    for m in _EMAIL.finditer(text):
        yield m.span()


def _ibans(text: str, digits: int) -> Iterable[tuple[int, int]]:
    if digits < 8:
        return
    pos = 0
    while m := _IBAN.search(text, pos):
        value = m.group()
        # the regex is greedy over spaces: try the longest valid prefix of whole groups
        ends = (e for e in range(len(value), 14, -1) if e == len(value) or value[e] == " ")
        end = next((e for e in ends if _iban_like(value[:e])), None)
        if end is None:  # a look-alike ("ab12 ...") may hide an IBAN that starts a word later
            pos = m.start() + 1
            continue
        yield m.start(), m.start() + end
        pos = m.start() + end


def _iban_like(value: str) -> bool:
    """A valid IBAN; in lower or mixed case also of a known length with a mostly-digit BBAN."""
    if not iban_valid(value):
        return False
    if value.isupper():
        return True
    compact = value.replace(" ", "").upper()
    bban = compact[4:]  # prose that happens to pass mod 97 is mostly letters
    return compact[:2] in IBAN_LENGTHS and 2 * sum(ch.isdigit() for ch in bban) >= len(bban)


def _cards(text: str, digits: int) -> Iterable[tuple[int, int]]:
    if digits < 13:
        return
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 13 <= len(digits) <= 19 and CARD_PREFIX.match(digits) and luhn_valid(digits):
            yield m.span()


def _ssns(text: str, digits: int) -> Iterable[tuple[int, int]]:
    if digits < 9 or "-" not in text:
        return
    for m in _SSN.finditer(text):
        area, group, serial = m.groups()
        if area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000":
            yield m.span()


def _ips(text: str, digits: int) -> Iterable[tuple[int, int]]:
    patterns = [p for p, sep in ((_IPV4, "."), (_IPV6, ":")) if text.count(sep) >= 2]
    for pattern in patterns:
        for m in pattern.finditer(text):
            try:
                addr = ipaddress.ip_address(m.group())
            except ValueError:
                continue
            if pattern is _IPV4 and _VERSION_BEFORE.search(text, max(0, m.start() - 12), m.start()):
                continue  # "version 1.2.3.4", "section 8.4.1.3"
            if _personal_address(addr):
                yield m.span()


def _personal_address(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A public address can point to a subscriber; shared and special ranges point to no one."""
    if addr.is_loopback or addr.is_unspecified or addr.is_link_local or addr.is_multicast:
        return False
    if addr.is_reserved:
        return False
    return not any(addr in net for net in _PRIVATE_NETS if net.version == addr.version)


def _phones(text: str, digits: int) -> Iterable[tuple[int, int]]:
    if digits < 7:
        return
    patterns = [_PHONE_INTL] if "+" in text else []
    patterns += [_PHONE_NANP] if digits >= 10 else []
    for pattern in patterns:
        for m in pattern.finditer(text):
            if 7 <= sum(ch.isdigit() for ch in m.group()) <= 15:
                yield m.span()
    if digits >= 10:
        yield from _national_phones(text)
    low = text.lower()
    if not any(word in low for word in _PHONE_WORDS):
        return
    for m in _PHONE_CONTEXT.finditer(text):
        if 7 <= sum(ch.isdigit() for ch in m.group(1)) <= 15:
            yield m.span(1)


def _national_phones(text: str) -> Iterable[tuple[int, int]]:
    """020 7946 0958, 06-12345678, 0049 30 1234567: digit groups after a trunk 0 or after 00."""
    for m in _PHONE_NATIONAL.finditer(text):
        n = sum(ch.isdigit() for ch in m.group())
        low, high = (10, 15) if m.group(1).startswith("00") else (10, 12)
        if not low <= n <= high or _DATE.search(m.group()):
            continue
        if not _REFERENCE_BEFORE.search(text, max(0, m.start() - 30), m.start()):
            yield m.span()


def _secrets(text: str, digits: int) -> Iterable[tuple[int, int]]:
    low = text.lower()
    for pattern, hints in _SECRETS:
        if any(h in low for h in hints):
            for m in pattern.finditer(text):
                yield m.span()


# each detector gets the text and its number of digits, and skips quickly when it cannot match
DETECTORS: dict[str, Callable[[str, int], Iterable[tuple[int, int]]]] = {
    "secret": _secrets,
    "email": _emails,
    "iban": _ibans,
    "credit_card": _cards,
    "us_ssn": _ssns,
    "ip_address": _ips,
    "phone": _phones,
}


# -- public API ----------------------------------------------------------------------------------


def find_pii(text: str, *, kinds: Iterable[str] | None = None) -> list[PiiMatch]:
    """All personal-data matches in `text`, in text order, overlaps resolved by kind priority.

    kinds: restrict to these kinds (see `KINDS`); default all.
    """
    wanted = _check_kinds(kinds)
    if not text:
        return []
    digits = len(text) - len(text.translate(_NOT_DIGITS))
    taken: list[PiiMatch] = []
    for kind in KINDS:
        if kind not in wanted:
            continue
        for start, end in DETECTORS[kind](text, digits):
            if not any(start < m.end and m.start < end for m in taken):
                taken.append(PiiMatch(kind, start, end, text[start:end]))
    return sorted(taken, key=lambda m: m.start)


def redact(text: str, *, kinds: Iterable[str] | None = None) -> str:
    """`text` with each match replaced by its typed placeholder, e.g. "[EMAIL]"."""
    out, last = [], 0
    for m in find_pii(text, kinds=kinds):
        out.append(text[last : m.start])
        out.append(PLACEHOLDERS[m.kind])
        last = m.end
    out.append(text[last:])
    return "".join(out)


def _check_kinds(kinds: Iterable[str] | None) -> set[str]:
    if kinds is None:
        return set(KINDS)
    wanted = set(kinds)
    unknown = wanted - set(KINDS)
    if unknown:
        raise ValueError(f"Unknown PII kind(s) {sorted(unknown)}; known: {', '.join(KINDS)}.")
    return wanted
