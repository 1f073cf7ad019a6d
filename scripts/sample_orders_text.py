"""How the `orders-json` generator writes one order's facts: amounts in a number convention and a
currency mark, dates in a country's convention, SKUs, quantities, and the items as a sentence,
list lines or a table. Helpers of sample_orders.py; `o` is an order's facts plus its style.
"""

from __future__ import annotations

import datetime
import random

from sample_orders_words import MONTHS, MONTHS_DE, MONTHS_FR, NUMBER_WORDS, WEEKDAYS

# -- amounts, dates, codes ------------------------------------------------------------------------------


def number(v: float, conv: str, *, drop_cents: bool = False) -> str:
    """`v` in a number convention: en 1,234.50 | de 1.234,50 | fr 1 234,50 | ch 1'234.50 |
    plain 1234.50 | de_plain 1234,50; whole amounts may drop their cents."""
    whole = drop_cents and v == int(v) and v < 1000  # "2.282" could be read either way
    text = f"{v:,.0f}" if whole else f"{v:,.2f}"
    group, decimal = {"en": (",", "."), "de": (".", ","), "fr": (" ", ","), "ch": ("'", "."),
                      "plain": ("", "."), "de_plain": ("", ",")}[conv]  # fmt: skip
    return text.replace(",", "\0").replace(".", decimal).replace("\0", group)


def money(v: float, o: dict, rng: random.Random, style: str | None = None) -> str:
    amount = number(v, o["numbers"], drop_cents=o["drop_cents"])
    cur, style = o["currency"], style or o["money"]
    if style == "sym_pre":
        return f"{o['symbol']}{'' if len(o['symbol']) == 1 else ' '}{amount}"
    if style == "sym_post":
        return f"{amount} {o['symbol']}"
    if style == "code_pre":
        return f"{cur} {amount}"
    if style == "code_post":
        return f"{amount} {cur}"
    if style == "word":
        return f"{amount} {o['word']}"
    return amount  # bare: the text names the currency once ("prices in EUR")


def currency_note(o: dict, rng: random.Random) -> str:
    """The line that names the currency when amounts are bare; '' otherwise."""
    if o["money"] != "bare":
        return ""
    name = rng.choice([o["currency"], o["word"]])
    return rng.choice(["All prices in {c}.", "Currency: {c}", "(amounts in {c})", "Prices are in {c}.",
                       "We pay in {c}."]).format(c=name)  # fmt: skip


def date_text(d: datetime.date, conv: str, rng: random.Random) -> str:
    day, month, year = d.day, d.month, d.year
    if conv in ("dmy", "mdy") and day <= 12:  # 05/06/2026 would be ambiguous: write it out
        conv = "long" if conv == "dmy" else "us_long"
    th = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd"}.get(day, "th")
    forms = {
        "iso": [f"{year}-{month:02d}-{day:02d}", f"{year}/{month:02d}/{day:02d}"],
        "dot": [f"{day:02d}.{month:02d}.{year}", f"{day}.{month}.{year}"],
        "dmy": [f"{day:02d}/{month:02d}/{year}", f"{day}/{month}/{year}", f"{day:02d}-{month:02d}-{year}"],
        "mdy": [f"{month:02d}/{day:02d}/{year}", f"{month}/{day}/{year}"],
        "long": [f"{day} {MONTHS[month - 1]} {year}", f"{day} {MONTHS[month - 1][:3]} {year}",
                 f"{WEEKDAYS[d.weekday()]}, {day} {MONTHS[month - 1]} {year}"],
        "long_th": [f"{day}{th} {MONTHS[month - 1]} {year}", f"{day}{th} of {MONTHS[month - 1]} {year}"],
        "us_long": [f"{MONTHS[month - 1]} {day}, {year}", f"{MONTHS[month - 1]} {day}{th}, {year}",
                    f"{MONTHS[month - 1][:3]} {day}, {year}"],
        "de_long": [f"{day}. {MONTHS_DE[month - 1]} {year}", f"{day:02d}.{month:02d}.{year}"],
        "fr_long": [f"{day} {MONTHS_FR[month - 1]} {year}", f"{day:02d}/{month:02d}/{year}"
                    if day > 12 else f"{day} {MONTHS_FR[month - 1]} {year}"],
    }  # fmt: skip
    return rng.choice(forms[conv])


def sku_text(sku: str, rng: random.Random) -> str:
    """Mostly as the catalogue writes it; sometimes spaced, lower-cased or without the hyphen."""
    r = rng.random()
    if r < 0.88:
        return sku
    prefix, digits = sku.split("-")
    return rng.choice([f"{prefix} {digits}", f"{prefix}{digits}", sku.lower()])


def qty_text(q: int, rng: random.Random, words: bool) -> str:
    if words and q <= 12 and rng.random() < 0.3:
        return "a dozen" if q == 12 and rng.random() < 0.5 else NUMBER_WORDS[q]
    return str(q)


# -- items: in a sentence, as list lines, as a table ---------------------------------------------

PROSE_ITEMS = [
    "{q} x {name} ({sku}) at {p} each",
    "{q} {name} [{sku}] @ {p}",
    "{q} of the {name} ({sku}), {p} apiece",
    "{sku} {name}: {q} pcs at {p}",
    "{q} units of {name}, item {sku}, unit price {p}",
    "{q}× {name} (ref. {sku}) for {p} per piece",
    "{name} {sku}, quantity {q}, {p} a unit",
    "{q} × {sku} ({name}) – {p} each",
    "{q} {name} (art. no. {sku}) priced at {p}",
    "{q} pieces {sku} {name} à {p}",
]
LINE_ITEMS = [
    "{sku} {name} x{q} @ {p}",
    "{q} x {sku} {name} {p}",
    "{name} ({sku}) qty {q} unit {p}",
    "{sku} | {name} | {q} | {p}",
    "{q}x {name} [{sku}] {p} ea.",
    "{name} – SKU {sku} – {q} pcs – {p}/pc",
    "{sku}: {name}, {q} @ {p}",
    "Item {sku} {name}  Qty: {q}  Price: {p}",
]
BULLETS = ["- ", "* ", "• ", "", "{n}. ", "{n}) ", "> "]


def _item_fields(o: dict, rng: random.Random, i: int, fmt: str) -> dict:
    it = o["items"][i]
    words = fmt.startswith(
        ("{q} of", "{q} units", "{q} {name}")
    )  # "three of the ...", not "three x"
    return {"q": qty_text(it["quantity"], rng, words), "name": it["name"], "sku": o["skus"][i],
            "p": money(it["unit_price"], o, rng)}  # fmt: skip


def items_prose(o: dict, rng: random.Random) -> str:
    fmt = rng.choice(PROSE_ITEMS)
    parts = [fmt.format(**_item_fields(o, rng, i, fmt)) for i in range(len(o["items"]))]
    if len(parts) == 1:
        return parts[0]
    joiner = rng.choice([", ", "; ", ", plus "])
    return joiner.join(parts[:-1]) + rng.choice([" and ", ", and ", "; also "]) + parts[-1]


def items_lines(o: dict, rng: random.Random) -> str:
    fmt, bullet = rng.choice(LINE_ITEMS), rng.choice(BULLETS)
    return "\n".join(
        bullet.format(n=i + 1) + fmt.format(**_item_fields(o, rng, i, "list"))
        for i in range(len(o["items"]))
    )


def items_table(o: dict, rng: random.Random, sep: str | None = None) -> str:
    """A CSV / TSV / pipe table; ';' where the decimal mark is a comma, as spreadsheets do."""
    if sep is None:
        sep = (
            ";" if o["numbers"] in ("de", "fr", "de_plain") else rng.choice([",", ";", "\t", " | "])
        )
    if sep == "," and o["numbers"] in ("en", "ch"):
        o = {**o, "numbers": "plain"}
    cols = rng.choice([["sku", "name", "q", "p"], ["q", "sku", "name", "p"], ["name", "sku", "q", "p"],
                       ["sku", "q", "p", "name"], ["sku", "name", "q", "p", "line"]])  # fmt: skip
    labels = {"sku": ["sku", "SKU", "Item", "Art.-Nr.", "Code", "Ref"],
              "name": ["name", "Description", "Product", "Article", "Item name"],
              "q": ["qty", "Qty", "Quantity", "Units", "Menge"],
              "p": ["unit_price", "Unit price", "Price", "Each", f"Price ({o['currency']})"],
              "line": ["line_total", "Amount", "Line total", "Sum"]}  # fmt: skip
    rows = [sep.join(rng.choice(labels[c]) for c in cols)]
    for i, it in enumerate(o["items"]):
        cell = {"sku": o["skus"][i], "name": it["name"], "q": str(it["quantity"]),
                "p": number(it["unit_price"], o["numbers"]),
                "line": number(it["quantity"] * it["unit_price"], o["numbers"])}  # fmt: skip
        rows.append(sep.join(cell[c] for c in cols))
    return "\n".join(rows)
