"""Generators for the clean demo samples support-tone, product-jargon and general-probe.

Used by make_samples.py; every function takes a seeded random.Random and is deterministic.
"""

from __future__ import annotations

import random

# -- support-tone --------------------------------------------------------------------------------

SUPPORT_GREETING = "Hi there,"
SUPPORT_SIGN_OFF = "- The Brightside Team"
SUPPORT_BANNED = [
    "unfortunately",
    "we apologize for any inconvenience",
    "as per",
    "kindly",
    "asap",
    "no problem",
    "per our policy",
    "valued customer",
]
SUPPORT_MAX_WORDS = 80
TOPICS = {
    "late": (
        [
            "My order {order} still hasn't arrived and it's been {days} days.",
            "Where is my parcel? Order {order} was due {when}.",
            "Tracking for {order} hasn't moved in {days} days, what is going on?",
            "I ordered a {item} ({order}) and it never showed up.",
        ],
        [
            "Thanks for letting us know about order {order}. I've checked with our courier and "
            "asked them to prioritise it; you'll get a tracking update within 24 hours.",
            "Sorry order {order} is running late. I've opened a trace with the courier, and if it "
            "isn't with you in two days we'll send a replacement at no cost.",
        ],
    ),
    "refund": (
        [
            "I'd like a refund for the {item} in order {order}.",
            "The {item} I bought doesn't fit my needs. Can I return it? Order {order}.",
            "How do I send back order {order}? I changed my mind about the {item}.",
            "Can I get my money back for the {item}? It's order {order}.",
        ],
        [
            "Of course. I've started a return for the {item} on order {order}; a prepaid label is on "
            "its way to your inbox and your refund follows once it reaches us.",
            "Happy to help with that. Returns are free within 30 days, so I've sent a return label for "
            "order {order}. Your refund lands 3 to 5 days after we receive the {item}.",
        ],
    ),
    "broken": (
        [
            "The {item} arrived broken. Order {order}.",
            "My {item} stopped working after {days} days.",
            "Order {order}: the {item} came with a cracked part.",
            "The {item} from order {order} is damaged, what can you do?",
        ],
        [
            "I'm sorry the {item} reached you damaged. A replacement is already packed for order "
            "{order}, and there's no need to send the broken one back.",
            "That's not the quality we aim for. I've arranged a free replacement {item}; it ships "
            "today and you'll get tracking details by email.",
        ],
    ),
    "account": (
        [
            "I can't log in to my account.",
            "How do I reset my password?",
            "I never got the email to confirm my account.",
            "Can I change the email address on my account?",
        ],
        [
            "Let's get you back in. Use the 'Forgot password' link on the sign-in page and a reset "
            "email will arrive within a few minutes; do check your spam folder too.",
            "You can update this under Settings, then Account. If the confirmation email doesn't "
            "arrive within ten minutes, reply here and we'll sort it out together.",
        ],
    ),
    "question": (
        [
            "Does the {item} come in other colours?",
            "Is the {item} dishwasher safe?",
            "How long is the warranty on the {item}?",
            "Do you ship the {item} abroad?",
        ],
        [
            "Great question! The {item} comes with a two-year warranty, and the product page lists "
            "every colour and care detail. We ship to most of Europe as well.",
            "Thanks for asking. Everything about the {item}, from colours to care instructions, is on "
            "its product page, and our two-year warranty covers it wherever we ship.",
        ],
    ),
    "thanks": (
        [
            "Just wanted to say the {item} is lovely, thank you!",
            "Great service, order {order} came early.",
            "Thanks for the quick replacement!",
            "Really happy with my {item}.",
        ],
        [
            "That made our day, thank you! Enjoy the {item}, and we're here whenever you need us.",
            "Thank you for the kind words! We'll pass them on to the team who packed your order.",
        ],
    ),
}
SUPPORT_ITEMS = [
    "desk lamp",
    "ceramic mug",
    "wool rug",
    "tea tin",
    "water bottle",
    "notebook",
    "scented candle",
    "serving tray",
    "seat cushion",
    "wall clock",
    "desk fan",
]
CLOSERS = ["", " Thanks.", " Please help.", " Cheers.", " Any ideas?", " Thank you in advance."]
EXTRA = [
    "",
    " Anything else we can do, just reply to this message.",
    " Have a bright day!",
    " We're always happy to help.",
]


def _support(rng: random.Random) -> tuple[str, str]:
    topic = rng.choice(sorted(TOPICS))
    asks, replies = TOPICS[topic]
    slots = {
        "order": f"BS-{rng.randint(10000, 99999)}",
        "days": rng.randint(3, 14),
        "item": rng.choice(SUPPORT_ITEMS),
        "when": rng.choice(["last Monday", "yesterday", "on Friday"]),
    }
    ask = rng.choice(asks).format(**slots) + rng.choice(CLOSERS)
    body = rng.choice(replies).format(**slots) + rng.choice(EXTRA)
    reply = f"{SUPPORT_GREETING}\n\n{body}\n\n{SUPPORT_SIGN_OFF}"
    assert len(reply.split()) <= SUPPORT_MAX_WORDS, reply
    assert not any(b in reply.lower() for b in SUPPORT_BANNED), reply
    return ask, reply


def support_tone(rng: random.Random, n_train: int = 300, n_eval: int = 40):
    rows, seen = [], set()
    while len(rows) < n_train + n_eval:
        ask, reply = _support(rng)
        if ask in seen:
            continue
        seen.add(ask)
        rows.append(
            {
                "messages": [
                    {"role": "user", "content": ask},
                    {"role": "assistant", "content": reply},
                ]
            }
        )
    return rows[:n_train], rows[n_train:]


# -- product-jargon ------------------------------------------------------------------------------

KINDS = [
    ("air purifier", "rooms up to {n} square metres", [20, 30, 40, 55, 70]),
    ("cargo winch", "loads up to {n} kg", [250, 400, 600, 900]),
    ("water pump", "{n} litres per minute", [12, 18, 25, 40]),
    ("battery pack", "{n} charge cycles", [500, 800, 1200, 2000]),
    ("floor heater", "spaces up to {n} square metres", [10, 15, 25, 35]),
    ("pressure valve", "pressures up to {n} bar", [6, 10, 16, 25]),
]
ACCESSORIES = [
    "FL-9 filter cartridge",
    "MB-3 mounting bracket",
    "PS-12 power supply",
    "HC-5 hose kit",
    "RC-2 remote",
    "SK-7 seal kit",
]
COLOURS = ["graphite grey", "signal orange", "arctic white", "forest green", "navy blue"]
FACT_QUESTIONS = {  # fact -> (train phrasings, eval phrasings)
    "kind": (
        ["What is the {code}?", "What kind of product is the {code}?"],
        ["Can you tell me what a {code} is?"],
    ),
    "rating": (
        ["What is the {code} rated for?", "What is the rating of the {code}?"],
        ["How much can the {code} handle?"],
    ),
    "warranty": (
        ["How long is the warranty on the {code}?", "What warranty does the {code} have?"],
        ["For how many years is the {code} covered?"],
    ),
    "accessory": (
        ["Which accessory does the {code} use?", "What part goes with the {code}?"],
        ["What should I order alongside a {code}?"],
    ),
    "colour": (
        ["What colour is the {code}?", "Which finish does the {code} come in?"],
        ["What does the {code} look like?"],
    ),
}


def _catalogue(rng: random.Random, n: int = 30) -> list[dict]:
    letters, codes = "BCDFGHKLMNPQRSTVWXZ", {"XK-220"}
    products = [
        {
            "code": "XK-220",
            "kind": "cargo winch",
            "rating": "loads up to 220 kg",
            "warranty_years": 3,
            "accessory": "MB-3 mounting bracket",
            "colour": "signal orange",
        }
    ]
    while len(products) < n:
        code = f"{rng.choice(letters)}{rng.choice(letters)}-{rng.randint(10, 99)}0"
        if code in codes:
            continue
        codes.add(code)
        kind, rating, values = rng.choice(KINDS)
        products.append(
            {
                "code": code,
                "kind": kind,
                "rating": rating.format(n=rng.choice(values)),
                "warranty_years": rng.choice([1, 2, 3, 5]),
                "accessory": rng.choice(ACCESSORIES),
                "colour": rng.choice(COLOURS),
            }
        )
    return products


def _fact_answer(p: dict, fact: str) -> str:
    code = p["code"]
    return {
        "kind": f"The {code} is a {p['kind']} in the Kestrel Works range.",
        "rating": f"The {code} is rated for {p['rating']}.",
        "warranty": f"The {code} has a {p['warranty_years']}-year warranty.",
        "accessory": f"The {code} uses the {p['accessory']}.",
        "colour": f"The {code} comes in {p['colour']}.",
    }[fact]


def product_jargon(rng: random.Random, n_eval: int = 40):
    catalogue = _catalogue(rng)
    train, facts = [], []
    for p in catalogue:
        for fact, (train_qs, _) in FACT_QUESTIONS.items():
            facts.append((p, fact))
            for q in train_qs:
                train.append(_qa(q.format(code=p["code"]), _fact_answer(p, fact)))
    rng.shuffle(train)
    eval_ = [
        _qa(rng.choice(FACT_QUESTIONS[f][1]).format(code=p["code"]), _fact_answer(p, f))
        for p, f in rng.sample(facts, n_eval)
    ]
    return train, eval_, {"company": "Kestrel Works (fictional)", "products": catalogue}


def _qa(question: str, answer: str) -> dict:
    return {
        "messages": [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]
    }
