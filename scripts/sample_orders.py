"""Generator for the `orders-json` sample: free-text orders -> one compact JSON object per answer.

Orders arrive the ways real ones do: a one-line request, a polite e-mail with a signature, a
forwarded mail with its headers, a purchase-order form, a CSV or table block, a bullet list, a
chat thread, an invoice, a note taken on a call. Each layout varies its wording, the order of its
parts and where the customer, date and total appear; companies come from sixteen countries with
their legal forms, number conventions (1,234.50 / 1.234,50 / 1 234,50 / 1'234.50) and date
conventions (ISO, 15.06.2026, 15/06/2026, 06/15/2026, "15 June 2026", "June 15th, 2026").

Every fact of the answer is written in the text: the customer exactly as the answer has it, the
order date (a day-first or month-first date only when its day is above 12, so it is unambiguous;
a second date only when labelled as the delivery date), the currency (a symbol, a code, a word,
or one "prices in ..." line), each item's SKU (canonical, or spaced / lower-cased / without the
hyphen), name, quantity and unit price, and the total (the schema requires it). Items appear in
the text in the order of the answer. Deterministic for a given random.Random.
"""

from __future__ import annotations

import datetime
import json
import random

from sample_orders_layouts import LAYOUTS
from sample_orders_text import date_text, sku_text
from sample_orders_words import (
    COUNTRIES,
    COUNTRY_WEIGHTS,
    CURRENCY_WORDS,
    INVENTED,
    PRODUCT_FAMILIES,
    SYMBOLS,
)

ORDERS_SYSTEM = (
    "Extract the order as JSON matching the schema: customer, order_date (YYYY-MM-DD), "
    "currency (ISO code), items (sku, name, quantity, unit_price), total. "
    "Reply with the JSON object only."
)
CURRENCIES = ("CHF", "EUR", "GBP", "USD")
MAX_TOKENS = 345  # estimated: a row with its answer stays under ~360 SmolLM2 tokens


def _schema() -> dict:
    item = {
        "type": "object",
        "additionalProperties": False,
        "required": ["sku", "name", "quantity", "unit_price"],
        "properties": {
            "sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{3}$"},
            "name": {"type": "string", "minLength": 1},
            "quantity": {"type": "integer", "minimum": 1},
            "unit_price": {"type": "number", "minimum": 0},
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Order",
        "type": "object",
        "additionalProperties": False,
        "required": ["customer", "order_date", "currency", "items", "total"],
        "properties": {
            "customer": {"type": "string", "minLength": 1},
            "order_date": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
            "currency": {"type": "string", "enum": list(CURRENCIES)},
            "items": {"type": "array", "minItems": 1, "items": item},
            "total": {"type": "number", "minimum": 0},
        },
    }


# -- the facts of one order ----------------------------------------------------------------------


def catalogue(rng: random.Random) -> list[tuple[str, str, float]]:
    """(sku, name, list price) for a few hundred products: each noun in a few variants."""
    products, used = [], set()
    for nouns, modifiers, (low, high) in PRODUCT_FAMILIES:
        for prefix, noun in nouns:
            for mod in [None, *rng.sample(modifiers, 4)]:
                sku = f"{prefix}-{rng.randint(100, 999)}"
                while sku in used:
                    sku = f"{prefix}-{rng.randint(100, 999)}"
                used.add(sku)
                cents = rng.choice([0, 0, 0.5, 0.9, 0.99, 0.25, 0.45])
                price = round(rng.randint(low, high) + (cents if high < 500 else 0), 2)
                products.append((sku, f"{mod} {noun}" if mod else noun, float(price)))
    return products


def _customer(rng: random.Random, country: dict) -> str:
    surname, trade = rng.choice(country["surnames"]), rng.choice(country["trades"])
    shapes = [
        f"{surname} {trade}",
        f"{rng.choice(INVENTED)} {trade}",
        f"{surname} & {rng.choice(country['surnames'])}",
        f"{rng.choice(INVENTED)}",
    ]
    if country["forms"][0] not in ("Ltd", "Inc."):  # "Bäckerei Müller", not "Bakery Barnes"
        shapes.append(f"{trade} {surname}")
    base = rng.choice(shapes)
    return f"{base} {rng.choice(country['forms'])}" if rng.random() < 0.85 else base


def _facts(rng: random.Random, products: list) -> dict:
    code = rng.choices(list(COUNTRY_WEIGHTS), weights=list(COUNTRY_WEIGHTS.values()))[0]
    country = COUNTRIES[code]
    currency = rng.choices(list(country["currency"]), weights=list(country["currency"].values()))[0]
    date = datetime.date(rng.choice([2024, 2025, 2026]), rng.randint(1, 12), rng.randint(1, 28))
    items = []
    for sku, name, price in rng.sample(products, rng.choices([1, 2, 3], weights=[5, 3, 3])[0]):
        quantity = rng.choice([1, 1, 2, 3, 4, 5, 6, 8, 10, 12, 20, 24, 50, 100])
        if price > 50:  # nobody orders a hundred bookshelves
            quantity = rng.choice([1, 1, 2, 3] if price > 200 else [1, 2, 3, 4, 5, 6, 10])
        items.append({"sku": sku, "name": name, "quantity": quantity, "unit_price": price})
    random_conv = rng.random() < 0.25  # a quarter write in another country's conventions
    person = (rng.choice(country["first"]), rng.choice(country["surnames"]))
    return {
        "country": code,
        "customer": _customer(rng, country),
        "person": person,
        "date": date,
        "currency": currency,
        "items": items,
        "total": round(sum(i["quantity"] * i["unit_price"] for i in items), 2),
        "numbers": rng.choice(["en", "de", "fr", "ch", "plain"] if random_conv else country["numbers"]),
        "dates": rng.choice(["iso", "dot", "dmy", "mdy", "long", "us_long", "long_th"] if random_conv else country["dates"]),
        "money": rng.choice(["sym_pre", "sym_pre", "sym_post", "code_pre", "code_post", "word", "bare"]),
    }  # fmt: skip


def _style(rng: random.Random, f: dict) -> dict:
    """Per-order writing choices shared by all its parts."""
    cur = f["currency"]
    return {
        **f,
        "symbol": rng.choice(SYMBOLS[cur]) if f["money"] in ("sym_pre", "sym_post") else "",
        "word": rng.choice(CURRENCY_WORDS[cur]),
        "drop_cents": rng.random() < 0.5,
        "date_s": date_text(f["date"], f["dates"], rng),
        "skus": [sku_text(i["sku"], rng) for i in f["items"]],
    }


def _answer(f: dict) -> str:
    answer = {
        "customer": f["customer"],
        "order_date": f["date"].isoformat(),
        "currency": f["currency"],
        "items": f["items"],
        "total": f["total"],
    }
    return json.dumps(answer, ensure_ascii=False, separators=(",", ":"))


def _order(rng: random.Random, products: list) -> tuple[str, str]:
    facts = _facts(rng, products)
    layout = rng.choices(list(LAYOUTS.values()), weights=[w for _, w in LAYOUTS.values()])[0][0]
    return layout(_style(rng, facts), rng), _answer(facts)


def _tokens(text: str) -> float:
    """SmolLM2's token count of a row (system prompt included), within ~25 tokens: fitted on 460
    rows; digits are one token each, accented letters cost more than plain ones."""
    digits = sum(c.isdigit() for c in text)
    wide = sum(ord(c) > 127 for c in text)
    marks = sum(not c.isalnum() and not c.isspace() and ord(c) <= 127 for c in text)
    return (
        65 + 1.25 * digits + 0.75 * wide + 0.46 * marks + 0.3 * (len(text) - digits - wide - marks)
    )


def orders_json(rng: random.Random, n_train: int = 400, n_eval: int = 60):
    products = catalogue(rng)
    rows, seen = [], set()
    while len(rows) < n_train + n_eval:
        text, answer = _order(rng, products)
        if text in seen or _tokens(text + answer) > MAX_TOKENS:
            continue
        seen.add(text)
        rows.append(
            {
                "messages": [
                    {"role": "system", "content": ORDERS_SYSTEM},
                    {"role": "user", "content": text},
                    {"role": "assistant", "content": answer},
                ]
            }
        )
    return rows[:n_train], rows[n_train:], _schema()
