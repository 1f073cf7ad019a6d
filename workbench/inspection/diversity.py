"""How varied a dataset is: sentence templates, their coverage and distinct-n, without embeddings.

Generated demo data repeats a few sentence templates with other numbers, names and codes; a model
can then score well on held-out rows by recalling the template. Each user prompt is reduced to a
skeleton (`skeleton`: numbers, codes, dates, e-mails, amounts and proper nouns masked), equal
skeletons are one template, and templates whose skeletons share most word 3-grams (Jaccard at or
above `CLUSTER_THRESHOLD`, joined with union-find) are one cluster: `template_ids` gives the
cluster of every row, for a split that keeps whole templates out of training.

The rule behind `template_like` (TEMPLATE_RULE): at least MIN_ROWS rows, and the ten largest
clusters that each hold at least MIN_CLUSTER rows cover at least TEMPLATE_SHARE of the rows.
Counting only clusters of 3+ rows keeps a small varied set (where any 10 rows are "10 templates")
from being flagged.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from .dedup import _find, _union

CLUSTER_THRESHOLD = 0.5  # Jaccard of skeleton word 3-grams at or above which two shapes are one
MIN_ROWS = 20
MIN_CLUSTER = 3
TEMPLATE_SHARE = 0.5
TOP_SHOWN = 5  # templates listed in the summary
TEMPLATE_RULE = (
    f"template_like when rows >= {MIN_ROWS} and the 10 largest clusters of >= {MIN_CLUSTER} rows "
    f"cover >= {TEMPLATE_SHARE:.0%} of the rows"
)

_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"  # January, Feb., ...
_AMOUNT = r"\d+(?:[.,]\d+)*"  # 12, 12.50, 1.234,50 (a sentence's full stop is left alone)
_CURRENCY = r"(?:[$€£¥]|\b(?:usd|eur|gbp|chf|jpy|sek|nok|dkk|cad|aud)\b)"
# order matters: the longer, more specific shapes are masked before the numbers inside them
_MASKS = [
    ("<EMAIL>", r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    ("<URL>", r"https?://\S+"),
    (
        "<DATE>",
        r"\b\d{4}-\d{1,2}-\d{1,2}\b|\b\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\b"
        rf"|\b\d{{1,2}}(?:st|nd|rd|th)? {_MONTH},? \d{{4}}\b|\b{_MONTH} \d{{1,2}}(?:st|nd|rd|th)?,? \d{{4}}\b",
    ),
    (
        "<MONEY>",
        rf"{_CURRENCY} ?{_AMOUNT}|{_AMOUNT} ?{_CURRENCY}",
    ),
    ("<CODE>", r"\b[a-z]+[-_]?\d[\w-]*|\b\d+[-_][a-z][\w-]*"),  # SKU BTL-058, INV2024001, 12-ab
    ("<NUM>", _AMOUNT),
]
_MASK_RES = [(tag, re.compile(pattern, re.IGNORECASE)) for tag, pattern in _MASKS]
# a capitalised word that does not open a sentence: a name, a company, a product
_PROPER = re.compile(r"(?<![.!?\n]\s)(?<=\s|\()[A-Z][\w'&-]*[a-zA-Z]")
_NAME_RUN = re.compile(r"<NAME>(?:\s+(?:&|and|of|de|van|von)?\s*<NAME>)*")
_WORD = re.compile(r"<\w+>|\w+")


def skeleton(text: str) -> str:
    """`text` with numbers, codes, dates, e-mails, amounts and proper nouns as placeholders
    (<NUM>, <CODE>, <DATE>, <EMAIL>, <URL>, <MONEY>, <NAME>), whitespace collapsed, lower-cased.

    "Send 5 x BTL-058 to Ann Lee by 2026-06-15" -> "send <num> x <code> to <name> by <date>".
    """
    text = " ".join(text.split())
    for tag, pattern in _MASK_RES:
        text = pattern.sub(tag, text)
    text = _PROPER.sub("<NAME>", text)  # after the masks: "EUR" or "BTL-058" are not names
    return _NAME_RUN.sub("<NAME>", text).lower()


def distinct_n(texts: list[str], n: int) -> float:
    """Unique word n-grams / all word n-grams over `texts` (lower-cased words); 0.0 when none."""
    grams: list[tuple[str, ...]] = []
    for text in texts:
        words = text.lower().split()
        grams += [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def user_texts(ds) -> list[str]:
    """Each row's user turns joined by a newline (the prompts the model learns to answer)."""
    return ["\n".join(m["content"] for m in c if m["role"] == "user") for c in ds.conversations]


def template_ids(ds, *, threshold: float = CLUSTER_THRESHOLD) -> list[int]:
    """The template cluster of every row (0-based, dataset order), by the user prompts' skeletons.

    Rows with the same id come from one template; ids are 0, 1, ... in order of first appearance,
    so a split policy can hold whole ids out of training (all rows of a template on one side).
    """
    return _cluster([skeleton(t) for t in user_texts(ds)], threshold)


def _cluster(skeletons: list[str], threshold: float) -> list[int]:
    shapes = list(dict.fromkeys(skeletons))  # distinct skeletons, first-seen order
    grams = [_shingles(s) for s in shapes]
    sizes = [len(g) for g in grams]
    by_size = sorted(range(len(shapes)), key=sizes.__getitem__)
    parent = {i: i for i in range(len(shapes))}
    for k, i in enumerate(by_size):
        a, na = grams[i], sizes[i]
        for j in by_size[k + 1 :]:
            nb = sizes[j]  # >= na
            if na < threshold * nb:
                break  # Jaccard <= na / nb: this and every larger shape are too far
            shared = len(a & grams[j])  # |a | b| = |a| + |b| - shared: no union set built
            if nb and shared >= threshold * (na + nb - shared):
                _union(parent, i, j)
    root_of = {s: _find(parent, i) for i, s in enumerate(shapes)}
    ids: dict[int, int] = {}
    return [ids.setdefault(root_of[s], len(ids)) for s in skeletons]


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = _WORD.findall(text)
    if len(words) < 3:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


def diversity_summary(ds, *, threshold: float = CLUSTER_THRESHOLD) -> dict[str, Any]:
    """Templates, their coverage, distinct-1/2 and template clusters of the user prompts
    (plus templates and distinct-n of the answers), and `template_like` by TEMPLATE_RULE."""
    prompts = user_texts(ds)
    shapes = [skeleton(t) for t in prompts]
    rows = len(shapes)
    counts = Counter(shapes)
    clusters = Counter(_cluster(shapes, threshold))
    big = [n for n in sorted(clusters.values(), reverse=True) if n >= MIN_CLUSTER][:10]
    covered = sum(big) / rows if rows else 0.0
    answers = ["\n".join(m["content"] for m in c if m["role"] == "assistant") for c in ds]
    return {
        "rows": rows,
        "templates": len(counts),
        "top5_share": _share(counts, 5, rows),
        "top10_share": _share(counts, 10, rows),
        "clusters": len(clusters),
        "top10_cluster_share": round(covered, 3),
        "distinct_1": round(distinct_n(prompts, 1), 3),
        "distinct_2": round(distinct_n(prompts, 2), 3),
        "template_like": rows >= MIN_ROWS and covered >= TEMPLATE_SHARE,
        "rule": TEMPLATE_RULE,
        "top_templates": [
            {"skeleton": s, "count": n, "example_index": shapes.index(s)}
            for s, n in counts.most_common(TOP_SHOWN)
        ],
        "answers": {
            "templates": len({skeleton(a) for a in answers}),
            "distinct_1": round(distinct_n(answers, 1), 3),
            "distinct_2": round(distinct_n(answers, 2), 3),
        },
    }


def _share(counts: Counter, k: int, rows: int) -> float:
    return round(sum(n for _, n in counts.most_common(k)) / rows, 3) if rows else 0.0
