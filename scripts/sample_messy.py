"""Generator for the `messy-support` sample: clean support chats plus planted, recorded problems.

Every planted problem is listed in planted.json with its 1-based train line, so tests can check
that the inspection step finds each one. Planted personal data is fictional by construction.
"""

from __future__ import annotations

import copy
import random

OPENINGS = [
    "Hello,",
    "Hi,",
    "Good morning,",
    "Hey there,",
    "Dear support,",
    "Hi folks,",
    "Evening,",
    "Quick question:",
]
PROBLEMS = {
    "delivery": [
        "my parcel {order} is stuck in transit",
        "the courier left {order} at the wrong door",
        "order {order} shows delivered but nothing came",
        "the {item} I ordered is a week late",
    ],
    "billing": [
        "I was charged twice for {order}",
        "my invoice for {order} shows the wrong amount",
        "the discount code did not apply to {order}",
        "I need a VAT receipt for {order}",
    ],
    "product": [
        "the {item} stopped charging",
        "the lid of my {item} does not close",
        "the {item} is smaller than the photos suggest",
        "the {item} makes a rattling noise",
    ],
    "account": [
        "I cannot change my delivery address",
        "the app logs me out every few minutes",
        "my loyalty points disappeared",
        "I want to close my account",
    ],
}
DETAILS = [
    "",
    " It has been like this since {day}.",
    " I already tried restarting everything.",
    " This is the second time it happened.",
    " My neighbour had the same issue.",
    " I need it sorted before {day}.",
    " The website was no help.",
    " I attached nothing yet.",
]
CLOSERS = ["", " Thanks.", " Cheers.", " What can you do?", " Regards.", " Help!"]
ACKS = [
    "Thanks for getting in touch.",
    "Sorry about the trouble.",
    "Thanks for the details.",
    "I understand how annoying that is.",
    "Good to hear from you.",
    "Thanks for your patience.",
]
ACTIONS = {
    "delivery": [
        "I have opened a trace for {order} with the courier.",
        "I have booked a redelivery for {order}.",
        "A replacement for {order} ships today.",
    ],
    "billing": [
        "I have refunded the extra charge on {order}.",
        "A corrected invoice for {order} is on its way by email.",
        "I applied the discount to {order} and refunded the difference.",
    ],
    "product": [
        "A replacement {item} is on its way.",
        "I have sent you a prepaid return label for the {item}.",
        "Our repair team will call you about the {item}.",
    ],
    "account": [
        "I have updated that on your account.",
        "I have reset your session; please sign in again.",
        "I have passed this to our account team, who reply within a day.",
    ],
}
FOLLOWUPS = [
    "",
    " Let us know if anything else comes up.",
    " You will get a confirmation email shortly.",
    " Reply here if it is not fixed by {day}.",
    " Have a good day.",
    " Sorry again for the hassle.",
]
ITEMS = [
    "kettle",
    "lamp",
    "backpack",
    "speaker",
    "blender",
    "toaster",
    "thermos",
    "rain jacket",
    "bike light",
    "alarm clock",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "the weekend"]
NAMES = [
    "mira.quellstone",
    "tobin.arkwright",
    "ysolde.fenmoor",
    "caspian.drewitt",
    "oona.halvard",
    "piet.vanterre",
]


NEAR_LIMIT = 0.6  # word-set Jaccard two clean chats must stay below


def _chat(rng: random.Random) -> dict:
    topic = rng.choice(sorted(PROBLEMS))
    s = {
        "order": f"MS-{rng.randint(1000, 9999)}",
        "item": rng.choice(ITEMS),
        "day": rng.choice(DAYS),
    }
    user = (
        f"{rng.choice(OPENINGS)} {rng.choice(PROBLEMS[topic])}.{rng.choice(DETAILS)}"
        f"{rng.choice(CLOSERS)}"
    ).format(**s)
    reply = f"{rng.choice(ACKS)} {rng.choice(ACTIONS[topic])}{rng.choice(FOLLOWUPS)}".format(**s)
    return {
        "messages": [{"role": "user", "content": user}, {"role": "assistant", "content": reply}]
    }


def _near(row: dict, rng: random.Random) -> dict:
    """A copy with one small edit to the user turn (what a sloppy export or re-entry produces)."""
    out = copy.deepcopy(row)
    text = out["messages"][0]["content"]
    edits = [
        text.replace(".", "!", 1),
        text.lower(),
        text + " Thanks",
        text.replace(" the ", " my ", 1),
        "  " + text,
    ]
    out["messages"][0]["content"] = next(
        e for e in edits[rng.randrange(len(edits)) :] + edits if e != text
    )
    return out


def _iban(rng: random.Random) -> str:
    bban = "".join(str(rng.randint(0, 9)) for _ in range(18))
    check = 98 - int(bban + "131400") % 97  # D=13, E=14, then "00"
    raw = f"DE{check:02d}{bban}"
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def _card(rng: random.Random) -> str:
    digits = [4] + [rng.randint(0, 9) for _ in range(14)]
    total = 0
    for i, d in enumerate(reversed(digits)):  # the check digit will sit to the right
        d2 = d * 2 if i % 2 == 0 else d
        total += d2 - 9 if d2 > 9 else d2
    digits.append((10 - total % 10) % 10)
    raw = "".join(map(str, digits))
    return " ".join(raw[i : i + 4] for i in range(0, 16, 4))


PII = {
    "email": (
        lambda r: f"{r.choice(NAMES)}@{r.choice(['example.com', 'example.org', 'example.net'])}",
        "You can email me at {v}.",
    ),
    "phone": (
        lambda r: r.choice(["+44 20 7946 0", "+44 7700 900"]) + f"{r.randint(0, 999):03d}",
        "Call me on {v} if that is easier.",
    ),
    "iban": (_iban, "Please refund to my account {v}."),
    "card": (_card, "The card I paid with was {v}."),
    "ipv4": (
        lambda r: f"{r.choice(['192.0.2', '198.51.100', '203.0.113'])}.{r.randint(1, 254)}",
        "The app says my IP {v} is blocked.",
    ),
}


def _long(rng: random.Random) -> dict:
    row = _chat(rng)
    lines = [
        f"[{h:02d}:{m:02d}] sync step {i}: the {rng.choice(ITEMS)} companion app reported code "
        f"E{rng.randint(100, 999)} and retried the upload of batch {rng.randint(1, 500)}."
        for i, (h, m) in enumerate((rng.randint(0, 23), rng.randint(0, 59)) for _ in range(40))
    ]
    row["messages"][0]["content"] += " Here is the full log:\n" + "\n".join(lines)
    return row


def _broken_roles(rng: random.Random, variant: int) -> dict:
    u, a = _chat(rng)["messages"]
    orders = [[a, u], [u, u, a], [u, {"role": "system", "content": "Be brief."}, a]]
    return {"messages": orders[variant % len(orders)]}


def _words(row: dict) -> set[str]:
    return set(" ".join(m["content"] for m in row["messages"]).lower().split())


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / max(1, len(a | b))


def messy_support(rng: random.Random, n_train: int = 200, n_eval: int = 30):
    kept: list[set[str]] = []

    def fresh() -> dict:
        """A clean chat that is not even close to any earlier one (so only planted copies match)."""
        while True:
            row = _chat(rng)
            words = _words(row)
            if all(_jaccard(words, other) < NEAR_LIMIT for other in kept):
                kept.append(words)
                return row

    eval_ = [fresh() for _ in range(n_eval)]
    planted: list[tuple[dict | str, dict]] = []  # (row, record without its line)
    for _ in range(3):
        row = fresh()
        row["messages"][1]["content"] = ""
        planted.append((row, {"kind": "empty_answer"}))
    for _ in range(2):
        row = fresh()
        row["messages"][1]["content"] = " \n\t "
        planted.append((row, {"kind": "whitespace_answer"}))
    for i in range(3):
        planted.append((_broken_roles(rng, i), {"kind": "wrong_role_order"}))
    for _ in range(2):
        planted.append(({"messages": fresh()["messages"][:1]}, {"kind": "missing_final_assistant"}))
    for kind, n in (("email", 3), ("phone", 3), ("iban", 2), ("card", 2), ("ipv4", 2)):
        make, sentence = PII[kind]
        for _ in range(n):
            row, value = fresh(), make(rng)
            row["messages"][0]["content"] += " " + sentence.format(v=value)
            planted.append((row, {"kind": kind, "value": value}))
    for _ in range(3):
        planted.append((_long(rng), {"kind": "over_long"}))
    leaked = rng.sample(range(n_eval), 6)
    for j in leaked[:3]:
        planted.append((copy.deepcopy(eval_[j]), {"kind": "eval_leak_exact", "eval_line": j + 1}))
    for j in leaked[3:]:
        planted.append((_near(eval_[j], rng), {"kind": "eval_leak_near", "eval_line": j + 1}))
    malformed = '{"messages": [{"role": "user", "content": "My order never ca'
    planted.append((malformed, {"kind": "malformed_json"}))

    n_dupes = 10  # 5 exact + 5 near copies of clean rows, each placed after its original
    clean = [fresh() for _ in range(n_train - len(planted) - n_dupes)]
    rows: list[dict | str] = list(clean)
    for row, _ in planted:
        rows.insert(rng.randint(0, len(rows)), row)
    sources = {}
    for k, source in enumerate(rng.sample(clean, n_dupes)):
        dupe = copy.deepcopy(source) if k < 5 else _near(source, rng)
        after = next(i for i, r in enumerate(rows) if r is source) + 1
        rows.insert(rng.randint(after, len(rows)), dupe)
        kind = "exact_duplicate" if k < 5 else "near_duplicate"
        planted.append((dupe, {"kind": kind}))
        sources[id(dupe)] = source
    line_of = {id(r): i + 1 for i, r in enumerate(rows)}
    problems = []
    for row, record in planted:
        extra = {"duplicate_of": line_of[id(sources[id(row)])]} if id(row) in sources else {}
        problems.append({"line": line_of[id(row)], **record, **extra})
    problems.sort(key=lambda p: p["line"])
    counts = {
        k: sum(p["kind"] == k for p in problems) for k in sorted({p["kind"] for p in problems})
    }
    return rows, eval_, {"train_lines": len(rows), "counts": counts, "problems": problems}
