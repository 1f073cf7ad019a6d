"""Generator for the `support-intent` sample: customer-support tickets labelled with one of 8 intents.

Used by make_samples.py; deterministic for a seeded random.Random. The classes are imbalanced as
a real queue is (SHARES: shipping delays about 30%, feature questions under 4%). A ticket is one
of four styles (a one-liner, a chat message, an e-mail with greeting and signature, an angry
complaint), built from the intent's own asks and details (sample_intents_words.py) with invented
order numbers, items, dates and amounts; some carry typos, and AMBIGUOUS of them mention a second
issue in passing while the label stays the main ask. A quarter of each intent's asks and details
are held out for the eval split, so eval tickets are not phrased like any train ticket.
"""

from __future__ import annotations

import random
import re

from sample_intents_style import (
    ANGRY,
    ASIDES,
    CARRIERS,
    CHAT_PREFIXES,
    CLOSINGS,
    DAYS,
    FIRST_NAMES,
    GREETINGS,
    ITEM_MODIFIERS,
    ITEMS,
    LAST_INITIALS,
    LAST_NAMES,
    MONTHS,
    PARAPHRASES,
    PLANS,
    POLITE,
    SIGN_OFFS,
)
from sample_intents_words import INTENTS

SHARES = {
    "shipping_delay": 0.30,
    "refund_request": 0.18,
    "account_access": 0.14,
    "billing_dispute": 0.11,
    "product_defect": 0.10,
    "cancel_subscription": 0.08,
    "change_address": 0.055,
    "feature_question": 0.035,
}
TRAIN_ROWS, EVAL_ROWS = 800, 200
EVAL_PHRASINGS = 0.25  # share of each intent's asks and details kept for eval only
AMBIGUOUS = 0.07  # tickets that also mention another intent's issue
TYPOS = 0.12  # tickets with one or two typing slips
STYLES = {"oneliner": 0.3, "chat": 0.25, "email": 0.3, "angry": 0.15}
REPHRASE = 0.8
NEAR = 0.6  # below the inspection's 0.7, so no ticket is flagged as a near duplicate
MAX_DRAWS = 1000
# longest phrase first, so "my order" wins over "order"; one pass, so a swap is never swapped again
_PHRASES = re.compile(
    r"(?<![\w'])(?:"
    + "|".join(re.escape(p) for p in sorted(PARAPHRASES, key=len, reverse=True))
    + r")(?![\w'])",
    re.IGNORECASE,
)
_ALTERNATIVES = {phrase.lower(): [phrase, *alts] for phrase, alts in PARAPHRASES.items()}
NUMBER_WORDS = ["three", "four", "five", "six", "seven", "ten", "twelve", "fifteen"]


def support_intent(rng: random.Random) -> tuple[list[dict], list[dict], list[str]]:
    """(train rows, eval rows, label names): rows are {"text": ..., "label": ...}."""
    assert abs(sum(SHARES.values()) - 1) < 1e-9 and set(SHARES) == set(INTENTS)
    pools = {intent: _split_phrasings(rng, INTENTS[intent]) for intent in INTENTS}
    seen: set[str] = set()
    train = _tickets(rng, pools, "train", TRAIN_ROWS, seen)
    eval_ = _tickets(rng, pools, "eval", EVAL_ROWS, seen)
    return train, eval_, sorted(INTENTS)


def class_counts(rows: int) -> dict[str, int]:
    """Rows per intent for a split of `rows`: SHARES, rounded by largest remainder."""
    exact = {intent: share * rows for intent, share in SHARES.items()}
    counts = {intent: int(x) for intent, x in exact.items()}
    by_remainder = sorted(exact, key=lambda i: (counts[i] - exact[i], i))
    for intent in by_remainder[: rows - sum(counts.values())]:
        counts[intent] += 1
    return counts


def _split_phrasings(rng: random.Random, phrasings: dict) -> dict[str, dict[str, list[str]]]:
    """{"train": {"asks": [...], "details": [...]}, "eval": {...}}: disjoint phrasings."""
    out: dict[str, dict[str, list[str]]] = {"train": {}, "eval": {}}
    for kind in ("asks", "details"):
        shuffled = list(phrasings[kind])
        rng.shuffle(shuffled)
        held = max(1, round(len(shuffled) * EVAL_PHRASINGS))
        out["eval"][kind], out["train"][kind] = shuffled[:held], shuffled[held:]
    return out


def _tickets(rng: random.Random, pools: dict, split: str, rows: int, seen: set[str]) -> list[dict]:
    """`rows` distinct tickets in shuffled order: a text whose words were already written (any
    split, any case or punctuation), or a near copy of a ticket of this split (NEAR), is redrawn."""
    labels = [intent for intent, n in class_counts(rows).items() for _ in range(n)]
    rng.shuffle(labels)
    out, written = [], []
    for label in labels:
        for _ in range(MAX_DRAWS):
            text = _ticket(rng, label, pools[label][split])
            grams = _trigrams(text)
            if _words(text) not in seen and not any(_near(grams, g) for g in written):
                break
        else:
            raise RuntimeError(f"no new {label} ticket in {MAX_DRAWS} draws: add phrasings")
        seen.add(_words(text))
        written.append(grams)
        out.append({"text": text, "label": label})
    return out


def _words(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def _trigrams(text: str) -> set[str]:
    words = _words(text).split()
    return {" ".join(words[i : i + 3]) for i in range(max(1, len(words) - 2))}


def _near(a: set[str], b: set[str]) -> bool:
    """Jaccard of word 3-grams at or above NEAR: what the inspection calls a near duplicate."""
    shared = len(a & b)
    return shared >= NEAR * (len(a) + len(b) - shared)


def _ticket(rng: random.Random, label: str, pool: dict[str, list[str]]) -> str:
    style = rng.choices(list(STYLES), weights=list(STYLES.values()))[0]
    values = _values(rng)  # one order, item, date ... per ticket, shared by its sentences
    ask = _paraphrase(rng, rng.choice(pool["asks"]).format(**values))
    detail = _paraphrase(rng, rng.choice(pool["details"]).format(**values))
    aside = _aside(rng, label) if rng.random() < AMBIGUOUS else ""
    text = {"oneliner": _oneliner, "chat": _chat, "email": _email, "angry": _angry}[style](
        rng, ask, detail, aside
    )
    return _typos(rng, text) if rng.random() < TYPOS else text


def _aside(rng: random.Random, label: str) -> str:
    return rng.choice([text for intent, text in ASIDES if intent != label])


# -- the four styles -----------------------------------------------------------------------------


def _oneliner(rng: random.Random, ask: str, detail: str, aside: str) -> str:
    """A bare ask, as typed into a contact form or a chat box."""
    text = ask if rng.random() < 0.5 else _sentence(ask)
    if rng.random() < 0.25:
        text = f"{rng.choice(CHAT_PREFIXES)} {text}"
    return _join(text, aside)


def _chat(rng: random.Random, ask: str, detail: str, aside: str) -> str:
    """A chat message: casual, sometimes with one detail before or after the ask."""
    parts = [_sentence(ask)]
    if rng.random() < 0.6:
        parts.insert(rng.randrange(2), detail)
    if aside:
        parts.append(aside)
    if rng.random() < 0.3:
        parts.append(rng.choice(CLOSINGS))
    text = " ".join(parts)
    return text.lower() if rng.random() < 0.3 else text


def _email(rng: random.Random, ask: str, detail: str, aside: str) -> str:
    """An e-mail: greeting, body (ask, detail, maybe a polite line), closing, signature."""
    body = [_sentence(ask), detail]
    if rng.random() < 0.5:
        body.reverse()
    if rng.random() < 0.35:
        body.insert(0, rng.choice(POLITE))
    if aside:
        body.append(aside)
    lines = [rng.choice(GREETINGS), " ".join(body)]
    if rng.random() < 0.5:
        lines.append(rng.choice(CLOSINGS))
    if rng.random() < 0.8:
        last = rng.choice([rng.choice(LAST_INITIALS), rng.choice(LAST_NAMES)])
        name = f"{rng.choice(FIRST_NAMES)} {last}".strip()
        sign_off = rng.choice(
            [s for s in SIGN_OFFS if s[:3] not in lines[-1]]
        )  # no "Thanks. Thanks,"
        lines.append(f"{sign_off}\n{name}")
    return "\n\n".join(lines) if rng.random() < 0.6 else "\n".join(lines)


def _angry(rng: random.Random, ask: str, detail: str, aside: str) -> str:
    """A complaint: the ask, shouted in part, with one or two exasperated lines."""
    ask = _sentence(ask)
    if rng.random() < 0.3:
        ask = ask.upper()
    parts = [ask, rng.choice(ANGRY)]
    if rng.random() < 0.5:
        parts.insert(1, detail)
    if rng.random() < 0.3:
        parts.insert(0, rng.choice(ANGRY))
    return _join(" ".join(parts), aside).replace("?", rng.choice(["?", "??", "?!"]))


# -- pieces --------------------------------------------------------------------------------------


def _values(rng: random.Random) -> dict[str, str]:
    return {
        "order": _order(rng),
        "item": f"{rng.choice(ITEM_MODIFIERS)} {rng.choice(ITEMS)}".strip(),
        "amount": _amount(rng),
        "date": _date(rng),
        "day": rng.choice(DAYS),
        "carrier": rng.choice(CARRIERS),
        "plan": rng.choice(PLANS),
        "days": str(rng.randint(3, 24)) if rng.random() < 0.6 else rng.choice(NUMBER_WORDS),
    }


def _paraphrase(rng: random.Random, text: str) -> str:
    """Each phrase PARAPHRASES knows, swapped (with probability REPHRASE) for another wording."""

    def swap(match: re.Match) -> str:
        found = match.group(0)
        if rng.random() >= REPHRASE:
            return found
        other = rng.choice(_ALTERNATIVES[found.lower()])
        if found.isupper() and len(found) > 1:
            return other.upper()
        return other[0].upper() + other[1:] if found[0].isupper() else other

    return _PHRASES.sub(swap, text)


def _order(rng: random.Random) -> str:
    digits = rng.randint(10000, 99999)
    shape = rng.randrange(5)
    if shape == 0:
        return f"#{digits}"
    if shape == 1:
        return f"ORD-{digits}"
    if shape == 2:
        return str(digits)
    if shape == 3:
        return f"BS-{rng.randint(1000, 9999)}-{rng.randint(100, 999)}"
    return f"A{rng.randint(100000, 999999)}"


def _amount(rng: random.Random) -> str:
    value = rng.choice([rng.randint(5, 300), rng.randint(5, 300) + rng.choice([0.5, 0.99, 0.95])])
    number = f"{value:.2f}" if isinstance(value, float) else str(value)
    currency = rng.choice(["€", "$", "£"])
    return f"{number} EUR" if rng.random() < 0.15 else f"{currency}{number}"


def _date(rng: random.Random) -> str:
    day, month = rng.randint(1, 28), rng.choice(MONTHS)
    return rng.choice(
        [f"{day} {month}", f"{month} {day}", f"the {_ordinal(day)}", f"{day}/{rng.randint(1, 12)}"]
    )


def _ordinal(day: int) -> str:
    suffix = "th" if 10 < day % 100 < 14 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _sentence(text: str) -> str:
    """Capitalised, ending in punctuation."""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".?!" else text + "."


def _join(text: str, aside: str) -> str:
    return f"{_sentence(text) if text[-1].isalnum() else text} {aside}" if aside else text


def _typos(rng: random.Random, text: str) -> str:
    """One or two slips: two letters swapped, one dropped or one doubled, in words of 4+ letters."""
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    for i in rng.sample(candidates, min(len(candidates), rng.randint(1, 2))):
        w, k = words[i], rng.randrange(1, len(words[i]) - 1)
        slip = rng.randrange(3)
        if slip == 0:
            words[i] = w[:k] + w[k + 1] + w[k] + w[k + 2 :]
        elif slip == 1:
            words[i] = w[:k] + w[k + 1 :]
        else:
            words[i] = w[:k] + w[k] + w[k:]
    return " ".join(words)
