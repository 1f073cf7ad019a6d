"""Generator for the preference sample support-tone-pairs: on-brand reply chosen, an off-brand one rejected.

Used by make_samples.py; deterministic for a seeded random.Random. The prompts and chosen replies
are support-tone's own rows (train pairs from its train split, eval pairs from its eval split), so
SFT on support-tone and DPO on these pairs see the same held-out prompts.
"""

from __future__ import annotations

import random

from sample_texts import SUPPORT_GREETING, SUPPORT_SIGN_OFF

# what makes a reply off-brand: each rejected reply breaks exactly one style rule
FLAWS = ("curt", "banned_phrase", "no_sign_off", "no_greeting")
BANNED_OPENERS = [
    "Unfortunately, we need a moment to look into this.",
    "We apologize for any inconvenience.",
    "Kindly note the following.",
    "As per our policy, here is what happens next.",
    "No problem, valued customer.",
]
CURT = ["See the product page.", "Check your tracking link.", "Reply with your order number.",
        "It's on the website.", "We'll look into it."]  # fmt: skip
PLAIN_ENDINGS = ["Regards.", "Thanks.", "Bye."]


def _body(reply: str) -> str:
    return reply.removeprefix(f"{SUPPORT_GREETING}\n\n").removesuffix(f"\n\n{SUPPORT_SIGN_OFF}")


def off_brand(reply: str, flaw: str, rng: random.Random) -> str:
    """The on-brand `reply` rewritten to break one rule (`flaw`)."""
    body = _body(reply)
    if flaw == "curt":
        return rng.choice(CURT)
    if flaw == "banned_phrase":
        return f"{SUPPORT_GREETING}\n\n{rng.choice(BANNED_OPENERS)} {body}\n\n{SUPPORT_SIGN_OFF}"
    if flaw == "no_sign_off":
        return f"{SUPPORT_GREETING}\n\n{body}\n\n{rng.choice(PLAIN_ENDINGS)}"
    return f"{body}\n\n{SUPPORT_SIGN_OFF}"  # no_greeting


def support_tone_pairs(chat_rows: list[dict], rng: random.Random) -> list[dict]:
    """One pair per support-tone row; the flaws rotate so each kind is a quarter of the pairs."""
    out = []
    for i, row in enumerate(chat_rows):
        user, reply = row["messages"][0]["content"], row["messages"][-1]["content"]
        flaw = FLAWS[i % len(FLAWS)]
        out.append({"prompt": user, "chosen": reply, "rejected": off_brand(reply, flaw, rng),
                    "flaw": flaw})  # fmt: skip
    return out
