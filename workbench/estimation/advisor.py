"""Which lever to pull: prompt engineering, retrieval (RAG), fine-tuning, or a mix, and why.

Fine-tuning changes behaviour (tone, a fixed output format, jargon, one repetitive task done by a
cheaper model, data that must stay on a self-hosted model); it is a poor way to add facts that
change, and it cannot cite sources. Retrieval brings fresh knowledge with citations. Prompting is
the cheap first step in every case. `advise` turns a short questionnaire into a recommendation
with every reason spelled out, so a team can argue with the reasons rather than the verdict.
"""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import ConfigError

LEVERS = {"prompt": "Prompt engineering", "rag": "Retrieval (RAG)", "finetune": "Fine-tuning"}
# Examples needed before fine-tuning is worth it: LoRA on a few hundred clean examples changes
# format and tone; under ~100, few-shot prompting usually matches it.
MIN_EXAMPLES, GOOD_EXAMPLES = 100, 500
OBJECTIVES = {
    "sft": "trained on your examples (objective sft)",
    "sft+dpo": "first on your examples (objective sft), then on the preference pairs from that run "
    "(objective dpo, init_adapter = the SFT run)",
    "dpo": "trained on the preference pairs (objective dpo; their chosen answers are your examples)",
}


@dataclass
class Reason:
    lever: str  # "prompt" | "rag" | "finetune"
    points: int  # + for, - against, 0 a caveat that does not change the score
    text: str


@dataclass
class Advice:
    """A recommendation among the three levers, with the reasons that produced it."""

    recommendation: (
        str  # "prompt", "rag", "finetune" or "rag+finetune" (prompting always comes first)
    )
    levers: list[str]  # in the order to try them, starting with "prompt"
    scores: dict[str, int]
    reasons: list[Reason]
    warnings: list[str] = field(default_factory=list)
    technique: str | None = None  # a starting technique when fine-tuning is advised
    answers: dict[str, Any] = field(default_factory=dict)
    # how to train when fine-tuning is advised: "sft" (examples), "sft+dpo" (examples, then the
    # preference pairs from that run), "dpo" (pairs alone: their chosen answers are the examples)
    objective: str | None = None

    @property
    def title(self) -> str:
        return " + ".join(LEVERS[lever] for lever in self.recommendation.split("+"))

    @property
    def fine_tune(self) -> bool:
        return "finetune" in self.levers

    def reasons_for(self, lever: str) -> list[Reason]:
        return [r for r in self.reasons if r.lever == lever]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["title"] = self.title
        return data

    def to_text(self) -> str:
        lines = [f"Recommendation: {self.title}"]
        for lever in self.levers:
            lines.append(f"  {LEVERS[lever]} (score {self.scores[lever]:+d})")
            lines += [f"    {_sign(r.points)} {r.text}" for r in self.reasons_for(lever)]
        lines += [f"  ! {w}" for w in self.warnings]
        if self.technique:
            lines.append(f"  Start with technique: {self.technique}, {self.objective_text}")
        return "\n".join(lines)

    @property
    def objective_text(self) -> str:
        return OBJECTIVES.get(self.objective or "sft", OBJECTIVES["sft"])

    def _repr_html_(self) -> str:
        items = []
        for lever in LEVERS:
            rs = "".join(
                f"<li style='color:{_colour(r.points)}'>{html.escape(r.text)}</li>"
                for r in self.reasons_for(lever)
            )
            chosen = " <b>(recommended)</b>" if lever in self.levers else ""
            items.append(
                f"<li>{LEVERS[lever]}: score {self.scores[lever]:+d}{chosen}<ul>{rs}</ul></li>"
            )
        warns = "".join(f"<li>{html.escape(w)}</li>" for w in self.warnings)
        tech = (
            f"<p>Start with technique <code>{self.technique}</code>, "
            f"{html.escape(self.objective_text)}.</p>"
            if self.technique
            else ""
        )
        return (
            f"<div><h4>Recommendation: {html.escape(self.title)}</h4><ul>{''.join(items)}</ul>"
            f"{'<p><b>Watch out</b></p><ul>' + warns + '</ul>' if warns else ''}{tech}</div>"
        )


def _sign(points: int) -> str:
    return "+" if points > 0 else "-" if points < 0 else "·"


def _colour(points: int) -> str:
    return "#2e7d32" if points > 0 else "#c62828" if points < 0 else "#555"


def advise(
    *,
    knowledge_changes_often: bool = False,
    needs_citations: bool = False,
    goal_tone: bool = False,
    goal_format: bool = False,
    goal_jargon: bool = False,
    cost_at_volume: bool = False,
    data_in_house: bool = False,
    good_examples: int = 0,
    prompting_tried: bool = False,
    preference_pairs: int = 0,
) -> Advice:
    """Recommend prompt engineering, RAG, fine-tuning or a mix from a short questionnaire.

    knowledge_changes_often: the facts the model must use change weekly or faster.
    needs_citations: answers must point to their sources.
    goal_tone / goal_format / goal_jargon: the goal is a voice, a fixed output format (e.g. a
        strict JSON schema), or a domain's language.
    cost_at_volume: many calls a day, so a small specialised model would pay off.
    data_in_house: the data may not leave the organisation (self-hosted open model).
    good_examples: how many good input/output examples exist today.
    prompting_tried: a well-built prompt with examples has been tried and fell short.
    preference_pairs: how many pairs of a better and a worse answer to one prompt exist (ratings,
        A/B choices, replies a reviewer rewrote). For a tone they teach what examples cannot
        ("this reply, not that one"); their chosen answers also count as examples.
    """
    if good_examples < 0:
        raise ConfigError(f"good_examples must be >= 0, got {good_examples}.")
    if preference_pairs < 0:
        raise ConfigError(f"preference_pairs must be >= 0, got {preference_pairs}.")
    answers = {k: v for k, v in locals().items() if k != "answers"}
    reasons = [
        Reason(
            "prompt",
            1,
            "Cheapest and fastest to change: always the first step and the baseline to beat.",
        )
    ]
    reasons += _knowledge_reasons(knowledge_changes_often, needs_citations)
    reasons += _behaviour_reasons(
        goal_tone, goal_format, goal_jargon, cost_at_volume, data_in_house
    )
    examples = max(good_examples, preference_pairs)  # a pair's chosen answer is a good example
    reasons += _evidence_reasons(examples, prompting_tried)
    reasons += _preference_reasons(preference_pairs, goal_tone, good_examples)
    scores = {lever: sum(r.points for r in reasons if r.lever == lever) for lever in LEVERS}
    levers = _choose(scores, examples)
    warnings = _warnings(levers, knowledge_changes_often, examples, data_in_house)
    technique = "lora" if "finetune" in levers else None  # the default for most business cases
    objective = _objective(preference_pairs, goal_tone, good_examples) if technique else None
    beyond_prompt = [lv for lv in levers if lv != "prompt"]
    return Advice(
        recommendation="+".join(beyond_prompt) or "prompt",
        levers=levers,
        scores=scores,
        reasons=reasons,
        warnings=warnings,
        technique=technique,
        answers=answers,
        objective=objective,
    )


def _knowledge_reasons(changes: bool, citations: bool) -> list[Reason]:
    out = []
    if changes:
        out += [
            Reason(
                "rag",
                3,
                "Knowledge changes often: retrieval reads the current documents at question time.",
            ),
            Reason(
                "finetune",
                0,
                "Facts baked into weights go stale; every change means retraining (a recurring cost).",
            ),
        ]
    if citations:
        out += [
            Reason(
                "rag",
                3,
                "Citations are needed: retrieval can show the passage an answer came from.",
            ),
            Reason("finetune", 0, "A fine-tuned model cannot say where it learned something."),
        ]
    return out


def _behaviour_reasons(
    tone: bool, fmt: bool, jargon: bool, volume: bool, in_house: bool
) -> list[Reason]:
    out = []
    if tone:
        out += [
            Reason(
                "finetune",
                2,
                "A consistent tone or voice is behaviour: fine-tuning makes it the default.",
            ),
            Reason(
                "prompt", 1, "A style guide and examples in the prompt often get most of the way."
            ),
        ]
    if fmt:
        out += [
            Reason(
                "finetune",
                2,
                "A fixed output format (e.g. a strict JSON schema) is learned reliably from examples.",
            ),
            Reason("prompt", 1, "Try structured-output / JSON modes and few-shot examples first."),
        ]
    if jargon:
        out.append(
            Reason(
                "finetune",
                2,
                "Domain jargon and conventions are learned from many examples, not one prompt.",
            )
        )
    if volume:
        out += [
            Reason(
                "finetune",
                2,
                "At high volume a small fine-tuned model replaces a large prompted one: "
                "shorter prompts, cheaper calls.",
            ),
            Reason("prompt", -1, "Long prompts with many examples cost tokens on every call."),
        ]
    if in_house:
        out += [
            Reason(
                "finetune",
                1,
                "Data must stay in-house: a self-hosted open model can be tuned on your own machines.",
            ),
            Reason("rag", 1, "Retrieval can also run self-hosted over in-house documents."),
        ]
    return out


def _evidence_reasons(examples: int, prompting_tried: bool) -> list[Reason]:
    out = []
    if examples < MIN_EXAMPLES:
        out.append(
            Reason(
                "finetune",
                -3,
                f"Only {examples} good examples: collect at least {MIN_EXAMPLES} "
                f"(better {GOOD_EXAMPLES}+) before training; use them as few-shot examples now.",
            )
        )
    elif examples >= GOOD_EXAMPLES:
        out.append(
            Reason(
                "finetune",
                1,
                f"{examples} good examples: enough for a LoRA run and a held-out test set.",
            )
        )
    if prompting_tried:
        out.append(
            Reason(
                "finetune",
                1,
                "A careful prompt was tried and fell short: a measured reason to train.",
            )
        )
    return out


def _preference_reasons(pairs: int, tone: bool, examples: int) -> list[Reason]:
    if pairs <= 0:
        return []
    if pairs < MIN_EXAMPLES:
        return [
            Reason(
                "finetune",
                0,
                f"Only {pairs} preference pairs: collect at least {MIN_EXAMPLES} before preference "
                "tuning (DPO); use them to judge answers now.",
            )
        ]
    if not tone:
        return [
            Reason(
                "finetune",
                0,
                f"{pairs} preference pairs: preference tuning (DPO) pays off most for a tone or "
                "style; a format or a domain's language is learned from examples (SFT).",
            )
        ]
    then = "after SFT on your examples" if examples >= MIN_EXAMPLES else "on their own"
    return [
        Reason(
            "finetune",
            1,
            f"{pairs} preference pairs for a tone: 'this reply, not that one' teaches what single "
            f"examples cannot say. Train DPO {then} (notebook 03: objective = 'dpo').",
        )
    ]


def _objective(pairs: int, tone: bool, examples: int) -> str:
    if pairs < MIN_EXAMPLES or not tone:
        return "sft"
    return "sft+dpo" if examples >= MIN_EXAMPLES else "dpo"


def _choose(scores: dict[str, int], examples: int) -> list[str]:
    levers = ["prompt"]
    if scores["rag"] >= 3:
        levers.append("rag")
    if scores["finetune"] >= 2 and examples >= MIN_EXAMPLES:
        levers.append("finetune")
    return levers


def _warnings(levers: list[str], changes: bool, examples: int, in_house: bool) -> list[str]:
    out = []
    if "finetune" in levers:
        out.append(
            "Test on a broader set than your task: fine-tuning can make the model forget general skills."
        )
        out.append("Bad examples get amplified: inspect and clean the data first (notebook 01).")
        if in_house:
            out.append(
                "Personal data baked into weights is hard to remove (erasure requests): redact it before training."
            )
        if changes:
            out.append("Keep changing facts in retrieval, not in the weights.")
    if "finetune" not in levers and examples >= MIN_EXAMPLES:
        out.append(
            "You have examples: use the best ones as few-shot prompts and as an evaluation set."
        )
    return out


__all__ = ["Advice", "Reason", "advise", "LEVERS"]
