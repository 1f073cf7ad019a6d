"""The individual dataset checks behind `inspect_dataset`; each returns findings (and its numbers).

Severity policy (documented in the notebook and the CLI help):
- error: the row will train something wrong or must not be trained on as is: an unreadable line,
  an empty turn, a wrong role order, no final assistant answer, an exact copy of an eval row, and
  personal data (PII is an error by default because what is trained in cannot be taken out of the
  weights; pass `pii_severity="warning"` once you have a legal basis and have decided to keep it);
- warning: it wastes or skews training: duplicates, near copies of eval rows, truncation;
- info: facts worth knowing (e.g. token lengths were not measured, or template siblings: rows
  that differ only in numbers/IDs such as a ticket number, which are not duplicates).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from .pii import KINDS as PII_KINDS
from .pii import find_pii

SEVERITIES = ("error", "warning", "info")


@dataclass
class Finding:
    """One problem: which row (1-based source line), which field, what kind, how bad, what to do."""

    row: int | None  # 1-based line/row in the source file (None: about the whole dataset)
    field: str | None  # e.g. "messages[1].content"
    kind: str  # e.g. "empty_turn", "pii", "near_duplicate"
    severity: str  # error | warning | info
    message: str
    index: int | None = None  # 0-based position in the dataset (what `ds[index]` returns)
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _at(ds, i: int, **kwargs) -> Finding:
    return Finding(row=ds.row_ids[i], index=i, **kwargs)


# -- load problems and structure -----------------------------------------------------------------


def load_findings(ds) -> list[Finding]:
    """Rows the loader could not read (kept out of the dataset, listed in `ds.problems`)."""
    return [
        Finding(p.line, p.field, "load_error", "error", f"{p.message} {p.hint}".strip())
        for p in ds.problems
    ]


def structure_findings(ds) -> list[Finding]:
    """Empty or whitespace-only turns, wrong role order, conversations that end without an answer."""
    out: list[Finding] = []
    for i, conv in enumerate(ds.conversations):
        for k, m in enumerate(conv):
            if not m["content"].strip():
                what = "empty" if not m["content"] else "whitespace-only"
                out.append(
                    _at(
                        ds,
                        i,
                        field=f"messages[{k}].content",
                        kind="empty_turn",
                        severity="error",
                        message=f"The {m['role']} turn is {what}; drop the row or fill it in.",
                        detail={"role": m["role"]},
                    )
                )
        problem = role_order_problem(conv)
        if problem:
            out.append(
                _at(
                    ds, i, field=problem[0], kind="role_order", severity="error", message=problem[1]
                )
            )
        if not conv or conv[-1]["role"] != "assistant":
            out.append(
                _at(
                    ds,
                    i,
                    field="messages",
                    kind="no_final_assistant",
                    severity="error",
                    message="The conversation does not end with an assistant turn, so there "
                    "is no answer to learn; add one or drop the row.",
                )
            )
    return out


def role_order_problem(conv: list[dict]) -> tuple[str, str] | None:
    """(field, message) for the first role-order mistake: optional system first, then user/assistant alternating."""
    expected = "user"
    for k, m in enumerate(conv):
        role = m["role"]
        if role == "system":
            if k == 0:
                continue
            return f"messages[{k}].role", "A system turn appears after the start; put it first."
        if role != expected:
            return (
                f"messages[{k}].role",
                f"Turn {k + 1} is {role!r} where {expected!r} was expected (after an optional "
                "system turn, user and assistant must alternate, starting with user).",
            )
        expected = "assistant" if role == "user" else "user"
    return None


def conversation_counts(ds) -> dict[str, Any]:
    """Rows, turns, roles, system prompts."""
    roles = Counter(m["role"] for conv in ds.conversations for m in conv)
    systems = Counter(
        conv[0]["content"] for conv in ds.conversations if conv and conv[0]["role"] == "system"
    )
    turns = [len(conv) for conv in ds.conversations]
    return {
        "rows": len(ds),
        "turns": sum(turns),
        "turns_per_row": {
            "min": min(turns, default=0),
            "max": max(turns, default=0),
            "mean": round(sum(turns) / max(1, len(turns)), 2),
        },
        "roles": dict(sorted(roles.items())),
        "rows_with_system_prompt": sum(systems.values()),
        "distinct_system_prompts": len(systems),
        "load_problems": len(ds.problems),
    }


# -- personal data -------------------------------------------------------------------------------


def pii_findings(ds, *, severity: str = "error") -> tuple[list[Finding], dict[str, Any]]:
    """One finding per match; a summary with counts per kind and the rows per kind."""
    out: list[Finding] = []
    rows: dict[str, list[int]] = {k: [] for k in PII_KINDS}
    for i, conv in enumerate(ds.conversations):
        for k, m in enumerate(conv):
            for match in find_pii(m["content"]):
                out.append(
                    _at(
                        ds,
                        i,
                        field=f"messages[{k}].content",
                        kind="pii",
                        severity=severity,
                        message=f"{match.kind} in the {m['role']} turn ({match.masked}); "
                        "redact it or drop the row.",
                        detail={"pii_kind": match.kind, "start": match.start, "end": match.end},
                    )
                )
                if not rows[match.kind] or rows[match.kind][-1] != ds.row_ids[i]:
                    rows[match.kind].append(ds.row_ids[i])
    counts = Counter(f.detail["pii_kind"] for f in out)
    summary = {
        "counts": {k: counts.get(k, 0) for k in PII_KINDS},
        "rows": {k: v for k, v in rows.items() if v},
        "rows_with_pii": len({f.row for f in out}),
        "detectors": list(PII_KINDS),
        "not_detected": "names and postal addresses (need a trained NER model; not available offline)",
    }
    return out, summary


# -- token lengths -------------------------------------------------------------------------------


def length_findings(ds, tokenizer, *, max_length: int) -> tuple[list[Finding], dict[str, Any]]:
    """Token length of each example with the model's chat template, against `max_length`."""
    from ..templating import count_tokens

    counts = count_tokens(tokenizer, ds.conversations, max_length=max_length)
    out: list[Finding] = []
    for i, c in enumerate(counts):
        if c.error:
            out.append(
                _at(
                    ds,
                    i,
                    field="messages",
                    kind="template_error",
                    severity="error",
                    message=f"The chat template refused this conversation: {c.error}",
                )
            )
        elif c.n_tokens > max_length:
            lost = c.n_trained - c.n_trained_kept
            out.append(
                _at(
                    ds,
                    i,
                    field="messages",
                    kind="truncated",
                    severity="warning",
                    message=f"{c.n_tokens} tokens > max_length {max_length}: the last "
                    f"{c.n_tokens - max_length} are cut, {lost} of {c.n_trained} answer "
                    "tokens lost. Raise max_length, shorten or split the row.",
                    detail={"n_tokens": c.n_tokens, "answer_tokens_lost": lost},
                )
            )
    ok = [c for c in counts if not c.error]
    lengths = [c.n_tokens for c in ok]
    trained = sum(c.n_trained for c in ok)
    lost = trained - sum(c.n_trained_kept for c in ok)
    summary = {
        "max_length": max_length,
        "tokens": lengths_summary(lengths),
        "per_example": [c.n_tokens for c in counts],
        "truncated_rows": sum(n > max_length for n in lengths),
        "share_truncated": round(sum(n > max_length for n in lengths) / max(1, len(lengths)), 4),
        "answer_tokens": trained,
        "answer_tokens_lost": lost,
        "share_answer_tokens_lost": round(lost / max(1, trained), 4),
        "rows_with_no_answer_tokens_left": sum(
            c.n_trained > 0 and c.n_trained_kept == 0 for c in ok
        ),
    }
    return out, summary


def lengths_summary(lengths: list[int]) -> dict[str, float]:
    if not lengths:
        return {"min": 0, "p50": 0, "p95": 0, "max": 0, "mean": 0.0, "total": 0}
    s = sorted(lengths)

    def pct(q: float) -> int:
        return s[min(len(s) - 1, int(q * len(s)))]

    return {
        "min": s[0],
        "p50": pct(0.5),
        "p95": pct(0.95),
        "max": s[-1],
        "mean": round(sum(s) / len(s), 1),
        "total": sum(s),
    }


# -- duplicates and leakage ----------------------------------------------------------------------


def duplicate_findings(ds, *, threshold: float, index=None) -> tuple[list[Finding], dict[str, Any]]:
    """A finding on every copy after the first of each cluster (the first is the one `clean` keeps),
    and an info finding on every template sibling after the first (`clean` keeps those).

    index: `inspect_dedup.build_index(ds.conversations)`, shared with `leak_findings` to save time.
    """
    from .dedup import find_duplicates

    clusters = find_duplicates(ds.conversations, threshold=threshold, index=index)
    dups = [c for c in clusters if not c.siblings]
    siblings = [c for c in clusters if c.siblings]
    out = [f for c in dups for f in _copy_findings(ds, c)]
    out += [f for c in siblings for f in _sibling_findings(ds, c)]
    summary = {
        "threshold": threshold,
        "method": "exact content match + MinHash LSH on word 3-grams, confirmed by exact Jaccard",
        "exact_clusters": sum(c.exact for c in dups),
        "near_clusters": sum(not c.exact for c in dups),
        "rows_duplicated": sum(len(c.members) - 1 for c in dups),
        "clusters": [_cluster_summary(ds, c) for c in dups],
        "sibling_clusters": len(siblings),
        "template_siblings": [_cluster_summary(ds, c) for c in siblings],
    }
    return out, summary


def _copy_findings(ds, c) -> list[Finding]:
    first = ds.row_ids[c.members[0]]
    kind = "exact_duplicate" if c.exact else "near_duplicate"
    how = "an exact copy" if c.exact else f"a near copy (similarity >= {c.similarity:.2f})"
    return [
        _at(
            ds,
            i,
            field="messages",
            kind=kind,
            severity="warning",
            message=f"{how} of row {first}; duplicates weigh those examples more. Keep one.",
            detail={"duplicate_of": first, "similarity": c.similarity},
        )
        for i in c.members[1:]
    ]


def _sibling_findings(ds, c) -> list[Finding]:
    first = ds.row_ids[c.members[0]]
    return [
        _at(
            ds,
            i,
            field="messages",
            kind="template_sibling",
            severity="info",
            message=f"A template sibling of row {first}: the two differ only in numbers/IDs "
            "(a ticket or order number, an amount), so it is not counted as a "
            "duplicate and cleaning keeps it. Many siblings weigh one template more.",
            detail={"sibling_of": first, "similarity": c.similarity},
        )
        for i in c.members[1:]
    ]


def _cluster_summary(ds, c) -> dict[str, Any]:
    return {
        "rows": [ds.row_ids[i] for i in c.members],
        "exact": c.exact,
        "similarity": c.similarity,
    }


def leak_findings(
    ds, eval_ds, *, threshold: float, index=None
) -> tuple[list[Finding], dict[str, Any]]:
    """Training rows that are (nearly) rows of the eval split: the eval score would be inflated."""
    from .dedup import find_leaks

    leaks = find_leaks(ds.conversations, eval_ds.conversations, threshold=threshold, index=index)
    out: list[Finding] = []
    for leak in leaks:
        eval_row = eval_ds.row_ids[leak.eval]
        kind, severity = (
            ("eval_leak_exact", "error") if leak.exact else ("eval_leak_near", "warning")
        )
        how = (
            "is identical to"
            if leak.exact
            else f"nearly matches (similarity {leak.similarity:.2f})"
        )
        out.append(
            _at(
                ds,
                leak.train,
                field="messages",
                kind=kind,
                severity=severity,
                message=f"This training row {how} eval row {eval_row}; the eval score would "
                "reward memorising it. Drop it from training.",
                detail={"eval_row": eval_row, "similarity": leak.similarity},
            )
        )
    summary = {
        "eval_rows": len(eval_ds),
        "eval_source": eval_ds.provenance.source,
        "exact": sum(leak.exact for leak in leaks),
        "near": sum(not leak.exact for leak in leaks),
    }
    return out, summary
