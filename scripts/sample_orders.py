"""Generator for the `orders-json` sample: free-text orders -> one compact JSON object per answer.

Used by make_samples.py; deterministic for a given random.Random. Customers are invented companies.
"""

from __future__ import annotations

import json
import random

# -- orders-json ---------------------------------------------------------------------------------

ORDERS_SYSTEM = (
    "Extract the order as JSON matching the schema: customer, order_date (YYYY-MM-DD), "
    "currency (ISO code), items (sku, name, quantity, unit_price), total. "
    "Reply with the JSON object only."
)
PRODUCTS = [
    ("LMP-204", "Desk Lamp"),
    ("CHR-110", "Office Chair"),
    ("MUG-033", "Ceramic Mug"),
    ("NTB-512", "Dotted Notebook"),
    ("PEN-007", "Gel Pen Set"),
    ("CBL-260", "USB-C Cable"),
    ("KBD-418", "Wireless Keyboard"),
    ("MSE-321", "Ergonomic Mouse"),
    ("BAG-902", "Canvas Tote"),
    ("TEA-145", "Green Tea Tin"),
    ("CFE-550", "Coffee Beans 1kg"),
    ("PLT-076", "Potted Fern"),
    ("CLK-330", "Wall Clock"),
    ("STD-615", "Monitor Stand"),
    ("HDP-777", "Headphones"),
    ("BTL-058", "Steel Water Bottle"),
    ("FLD-240", "Paper Folder Pack"),
    ("TPE-019", "Packing Tape"),
    ("SCS-402", "Scissors"),
    ("WBD-880", "Whiteboard"),
    ("MRK-136", "Marker Set"),
    ("RUG-714", "Wool Rug"),
    ("CSH-265", "Seat Cushion"),
    ("FAN-390", "Desk Fan"),
    ("BLB-042", "LED Bulb"),
    ("TWL-318", "Cotton Towel"),
    ("SOP-227", "Hand Soap"),
    ("CND-661", "Scented Candle"),
    ("BKS-503", "Bookshelf"),
    ("TRY-184", "Serving Tray"),
]
CUSTOMER_A = [
    "Bramblewick",
    "Quillon",
    "Ferncastle",
    "Tidewater",
    "Larkspur",
    "Oakhollow",
    "Marlowe Finch",
    "Copperleaf",
    "Wrenford",
    "Ashgrove",
    "Pebblebrook",
    "Thistledown",
    "Brightwater",
    "Hollin",
    "Saltmarsh",
    "Juniper Vale",
    "Redfern",
    "Mosswood",
    "Cinderby",
    "Kettlewell",
    "Fogarty Lane",
    "Nettlecombe",
    "Starling",
    "Blue Heron",
]
CUSTOMER_B = [
    "Bakery",
    "Studio",
    "Ltd",
    "Supplies",
    "& Co",
    "Workshop",
    "GmbH",
    "Cafe",
    "Books",
    "Design",
    "Florists",
    "Print House",
    "Outfitters",
    "Trading",
    "Lab",
    "Hostel",
]
CURRENCIES = {  # code -> ways the text may write an amount
    "EUR": ["€{v}", "{v} EUR", "EUR {v}", "{v} euros"],
    "USD": ["${v}", "{v} USD", "USD {v}", "US${v}"],
    "GBP": ["£{v}", "{v} GBP", "GBP {v}"],
    "CHF": ["CHF {v}", "{v} CHF", "{v} Swiss francs"],
}
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
DATE_FORMATS = [
    "{y}-{m:02d}-{d:02d}",
    "{d} {M} {y}",
    "{M} {d}, {y}",
    "{d} {Mon} {y}",
    "{Mon} {d}, {y}",
    "{d:02d}.{m:02d}.{y}",
]
ITEM_FORMATS = [
    "{q} x {name} ({sku}) at {price} each",
    "{q} {name} [{sku}] @ {price}",
    "{name} (SKU {sku}), qty {q}, {price} per unit",
    "{q} units of {sku} {name} at {price}",
]
LINE_FORMATS = [
    "- {sku} {name} x{q} @ {price}",
    "{q} x {sku} {name} {price}",
    "* {name} ({sku}) qty {q} unit {price}",
]
ORDER_TEMPLATES = [
    "Order from {customer} on {date}: {items}. Total: {total}.",
    "Hi, this is {customer}. On {date} we would like to order {items}. That comes to {total}.",
    "INVOICE\nBill to: {customer}\nDate: {date}\n{lines}\nTotal due: {total}",
    "Please send {items} to {customer}. Dated {date}. Amount: {total}.",
    "{customer} placed an order ({date}) for {items}; grand total {total}.",
    "Purchase order - {customer} - {date}\n{lines}\nTOTAL {total}",
    "Hello team, {customer} here. We need {items}. Order date {date}, total {total}. Thanks!",
    "Receipt for {customer}\n{date}\n{lines}\nPaid: {total}",
]


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
            "currency": {"type": "string", "enum": sorted(CURRENCIES)},
            "items": {"type": "array", "minItems": 1, "items": item},
            "total": {"type": "number", "minimum": 0},
        },
    }


def _order(rng: random.Random) -> tuple[str, str]:
    customer = f"{rng.choice(CUSTOMER_A)} {rng.choice(CUSTOMER_B)}"
    y, m, d = rng.choice([2024, 2025, 2026]), rng.randint(1, 12), rng.randint(1, 28)
    date = rng.choice(DATE_FORMATS).format(y=y, m=m, d=d, M=MONTHS[m - 1], Mon=MONTHS[m - 1][:3])
    currency = rng.choice(sorted(CURRENCIES))
    money = rng.choice(CURRENCIES[currency])
    n_items = rng.choices([1, 2, 3], weights=[6, 3, 1])[0]
    items = []
    for sku, name in rng.sample(PRODUCTS, n_items):
        price = rng.choice(
            [rng.randint(2, 90) + rng.choice([0, 0.5, 0.99, 0.25]), rng.randint(1, 40) * 5]
        )
        items.append(
            {"sku": sku, "name": name, "quantity": rng.randint(1, 12), "unit_price": float(price)}
        )
    total = round(sum(i["quantity"] * i["unit_price"] for i in items), 2)
    fmt = rng.choice(ITEM_FORMATS)
    line_fmt = rng.choice(LINE_FORMATS)
    texts = [
        fmt.format(
            q=i["quantity"],
            name=i["name"],
            sku=i["sku"],
            price=money.format(v=f"{i['unit_price']:.2f}"),
        )
        for i in items
    ]
    joined = texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + " and " + texts[-1]
    lines = "\n".join(
        line_fmt.format(
            q=i["quantity"],
            name=i["name"],
            sku=i["sku"],
            price=money.format(v=f"{i['unit_price']:.2f}"),
        )
        for i in items
    )
    text = rng.choice(ORDER_TEMPLATES).format(
        customer=customer,
        date=date,
        items=joined,
        lines=lines,
        total=money.format(v=f"{total:.2f}"),
    )
    answer = {
        "customer": customer,
        "order_date": f"{y}-{m:02d}-{d:02d}",
        "currency": currency,
        "items": items,
        "total": total,
    }
    return text, json.dumps(answer, ensure_ascii=False, separators=(",", ":"))


def orders_json(rng: random.Random, n_train: int = 400, n_eval: int = 60):
    rows, seen = [], set()
    while len(rows) < n_train + n_eval:
        text, answer = _order(rng)
        if text in seen:
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
