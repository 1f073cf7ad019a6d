"""Checks for preference pairs: identical or empty sides, length bias, truncation, duplicates, leakage, PII.

Severity as for SFT data (checks.py): a pair that teaches nothing or something wrong is an error
(chosen equal to rejected, an empty side, personal data, an eval prompt in train); what skews
training is a warning (length bias: DPO learns "longer is better" when the chosen side is
systematically the longer one; truncation, which cuts the very tokens that differ; duplicates).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from .checks import Finding, pii_findings

LENGTH_BIAS_SHARE = 0.8  # chosen longer in more than this share of the pairs: a warning


@dataclass
class PairReport:
    """What `inspect_pairs` found: findings (row = 1-based source line) and summary numbers."""

    rows: int
    findings: list[Finding] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def kinds(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for f in self.findings:
            out[f.kind] += 1
        return dict(out)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "findings": [f.to_dict() for f in self.findings],
            "summary": self.summary,
        }


def inspect_pairs(
    pairs: Any,
    *,
    eval_pairs: Any = None,
    tokenizer: Any = None,
    max_length: int = 512,
    pii_severity: str = "error",
) -> PairReport:
    """Check a PreferenceDataset (and its eval split, for leakage); token lengths when given a tokenizer."""
    findings = _side_findings(pairs) + _duplicate_findings(pairs)
    summary: dict[str, Any] = {"length_bias": _length_bias(pairs, findings)}
    findings += _pii(pairs, pii_severity, summary)
    if eval_pairs is not None:
        findings += _leak_findings(pairs, eval_pairs)
    if tokenizer is not None:
        findings += _truncation_findings(pairs, tokenizer, max_length)
    findings.sort(key=lambda f: (f.row or 0, f.kind))
    return PairReport(rows=len(pairs), findings=findings, summary=summary)


def _pii(pairs: Any, severity: str, summary: dict[str, Any]) -> list[Finding]:
    """PII in the prompt and the chosen reply (one pass), and in the rejected reply."""
    out = []
    for side in ("chosen", "rejected"):
        found, numbers = pii_findings(pairs.side(side), severity=severity)
        for f in found:
            turn = int(str(f.field).split("[")[1].split("]")[0])
            in_prompt = turn < len(pairs.pairs[f.index].prompt)
            if side == "chosen" or not in_prompt:  # the prompt's own is reported once
                f.field = f"prompt[{turn}].content" if in_prompt else side
                out.append(f)
        summary[f"pii_rows_{side}"] = numbers["rows_with_pii"]
    return out


def _at(pairs: Any, i: int, **kwargs: Any) -> Finding:
    return Finding(row=pairs.row_ids[i], index=i, **kwargs)


def _side_findings(pairs: Any) -> list[Finding]:
    out = []
    for i, p in enumerate(pairs.pairs):
        for side in ("chosen", "rejected"):
            if not getattr(p, side).strip():
                out.append(_at(pairs, i, field=side, kind="empty_side", severity="error",
                               message=f"the {side} reply is empty; drop the pair or write it."))  # fmt: skip
        if p.chosen.strip() and p.chosen.strip() == p.rejected.strip():
            out.append(_at(pairs, i, field="rejected", kind="identical_sides", severity="error",
                           message="chosen and rejected are the same text: the pair teaches "
                                   "nothing (its DPO gradient is zero). Drop or fix it."))  # fmt: skip
    return out


def _length_bias(pairs: Any, findings: list[Finding]) -> dict[str, Any]:
    """Share of pairs whose chosen reply is longer (in words), and the mean length of each side."""
    lengths = [(len(p.chosen.split()), len(p.rejected.split())) for p in pairs.pairs]
    differing = [(c, r) for c, r in lengths if c != r]
    share = sum(c > r for c, r in differing) / len(differing) if differing else 0.0
    summary = {
        "chosen_longer_share": round(share, 3),
        "mean_words_chosen": round(sum(c for c, _ in lengths) / max(len(lengths), 1), 1),
        "mean_words_rejected": round(sum(r for _, r in lengths) / max(len(lengths), 1), 1),
    }
    for name, value in (("chosen", share), ("rejected", 1 - share if differing else 0.0)):
        if value > LENGTH_BIAS_SHARE:
            findings.append(Finding(row=None, field=name, kind="length_bias", severity="warning",
                                    message=f"the {name} reply is the longer one in {value:.0%} of "
                                    "the pairs: DPO may learn length instead of quality. Add "
                                    "pairs where the better answer is the shorter one.",
                                    detail=summary))  # fmt: skip
    return summary


def _key(p: Any) -> str:
    return repr((p.prompt, p.chosen.strip(), p.rejected.strip()))


def _duplicate_findings(pairs: Any) -> list[Finding]:
    """Exact duplicate pairs, and one prompt whose chosen reply is another pair's rejected one."""
    out, first = [], {}
    chosen_of: dict[str, dict[str, int]] = defaultdict(dict)
    for i, p in enumerate(pairs.pairs):
        key = _key(p)
        if key in first:
            out.append(_at(pairs, i, field=None, kind="duplicate", severity="warning",
                           message=f"same pair as line {pairs.row_ids[first[key]]}; keep one.",
                           detail={"first_row": pairs.row_ids[first[key]]}))  # fmt: skip
        first.setdefault(key, i)
        prompt = repr(p.prompt)
        chosen_of[prompt].setdefault(p.chosen.strip(), i)
        j = chosen_of[prompt].get(p.rejected.strip())
        if j is not None and j != i:
            out.append(_at(pairs, i, field="rejected", kind="contradiction", severity="warning",
                           message=f"this pair rejects the reply line {pairs.row_ids[j]} chooses "
                                   "for the same prompt: the two pairs pull against each other.",
                           detail={"other_row": pairs.row_ids[j]}))  # fmt: skip
    return out


def _leak_findings(pairs: Any, eval_pairs: Any) -> list[Finding]:
    """Train pairs whose prompt is an eval prompt: the held-out score would be inflated."""
    held_out = {repr(p.prompt): eval_pairs.row_ids[k] for k, p in enumerate(eval_pairs.pairs)}
    return [
        _at(
            pairs,
            i,
            field="prompt",
            kind="eval_leak",
            severity="error",
            message=f"the prompt is also eval line {held_out[repr(p.prompt)]}: drop it from "
            "train or eval, or the eval score is not held out.",
            detail={"eval_row": held_out[repr(p.prompt)]},
        )  # fmt: skip
        for i, p in enumerate(pairs.pairs)
        if repr(p.prompt) in held_out
    ]


def _truncation_findings(pairs: Any, tokenizer: Any, max_length: int) -> list[Finding]:
    """Pairs whose prompt plus the longer side passes max_length: the cut removes the differing tokens."""
    from ..templating import render_chat

    out = []
    for i, p in enumerate(pairs.pairs):
        sizes = {
            side: len(tokenizer(render_chat(tokenizer, p.conversation(side)))["input_ids"])
            for side in ("chosen", "rejected")
        }
        over = [side for side, n in sizes.items() if n > max_length]
        if over:
            out.append(_at(pairs, i, field=over[0], kind="truncated", severity="warning",
                           message=f"{' and '.join(over)} with the prompt is {max(sizes.values())} "
                                   f"tokens, over max_length {max_length}: the end is cut off. "
                                   "Raise max_length or shorten the prompt.",
                           detail=sizes))  # fmt: skip
    return out
