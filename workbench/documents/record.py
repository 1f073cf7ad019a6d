"""The AI Act / GDPR record: what the regulation asks of whoever fine-tunes a model, filled from the run.

Maps to AI Act Art. 10(2)(a)-(h) (data governance), Annex IV 2 / Annex XI (method, design choices,
compute, evaluation), the Commission's July 2025 GPAI guidelines (a modifier whose compute exceeds
one third of the original model's training compute becomes a provider of a new GPAI model), and GDPR
Art. 6, 9 and 35 (legal basis, special categories, DPIA). Not legal advice: a checklist with evidence.
"""

from __future__ import annotations

from typing import Any

from .cards import (
    cleaning,
    evaluation_blocks,
    known_gaps,
    limitations,
    other_inspection,
    pii_blocks,
    training_status,
)
from .facts import GPAI_THRESHOLD_FLOP, RunFacts, generated_note, not_run
from .numbers import compute, dataset_names, hyperparameters, sci
from .render import (
    UNKNOWN,
    Bullets,
    Document,
    Fields,
    Figure,
    Heading,
    Para,
    Table,
    log_bar_svg,
)

GAP = f"_{UNKNOWN}_"


def ai_act_record(facts: RunFacts) -> Document:
    doc = Document(f"AI Act / GDPR record: {facts.run_dir.name}")
    doc.add(
        Para(
            generated_note()
            + " It records what the tool measured and marks what only the provider "
            "can state; it is a working record for your documentation, not legal advice."
        )
    )
    doc.add(
        *role_section(facts),
        *data_governance(facts),
        *method_section(facts),
        *compute_section(facts),
    )
    doc.add(Heading("5. Evaluation (Annex IV 2(g), Art. 15)"), *evaluation_blocks(facts))
    doc.add(*bias_section(facts))
    doc.add(Heading("7. Limitations and foreseeable risks"), Bullets(limitations(facts)))
    doc.add(*gdpr_section(facts))
    return doc


def role_section(facts: RunFacts) -> list[Any]:
    return [
        Heading("1. Role and scope"),
        Para(
            "Whoever fine-tunes a model for a high-risk use counts as a provider (Art. 25) and must document "
            "the modification: the data used, how quality was tested, how bias is monitored (Recital 109: "
            "obligations are limited to the modification)."
        ),
        Fields(
            [
                ("Provider", facts.said("provider_name")),
                ("Contact", facts.said("contact")),
                ("Intended purpose", facts.said("intended_purpose")),
                ("High-risk use (Annex III / Annex I)?", facts.said("high_risk_use")),
                ("Human oversight measures (Art. 14)", facts.said("human_oversight")),
                ("Base model", facts.base.get("base_model") or facts.param("model")),
                ("Base model source", facts.base.get("source")),
            ]
        ),
    ]


def data_governance(facts: RunFacts) -> list[Any]:
    insp = facts.inspect
    rows = [
        ["(a) design choices", _design_choice(facts)],
        [
            "(b) collection and origin; original purpose of personal data",
            f"datasets {', '.join(dataset_names(facts)) or 'not recorded'} (files and sha256 in the data card); "
            f"original purpose: {facts.said('collection_purpose') or GAP}",
        ],
        ["(c) preparation (cleaning, labelling, enrichment)", "; ".join(cleaning(facts))],
        ["(d) assumptions about what the data represent", GAP],
        ["(e) availability, quantity, suitability", _quantity(facts)],
        ["(f) examination for possible biases", _bias_examination(facts)],
        [
            "(g) measures to detect, prevent, mitigate biases",
            GAP + " (the probe in section 6 detects; mitigation is a provider decision)",
        ],
        [
            "(h) data gaps and shortcomings",
            "; ".join(known_gaps(facts))
            if insp is not None
            else other_inspection(facts)
            if facts.inspected_other
            else not_run("inspect"),
        ],
    ]
    return [
        Heading("2. Data governance (Art. 10(2)(a)-(h))"),
        Table(["Art. 10(2)", "record"], rows),
    ]


def _design_choice(facts: RunFacts) -> str:
    advice = facts.technique.advice if facts.technique else None
    why = None
    if advice is not None:
        pros = [r.text for r in advice.reasons_for("finetune") if r.points > 0]
        why = f"advisor recommends {advice.title}" + (f" ({'; '.join(pros)})" if pros else "")
    technique = facts.param("technique")
    text = f"technique {technique}" if technique else not_run("technique")
    return f"{text}; rationale: {why}" if why else f"{text}; rationale: {GAP}"


def _quantity(facts: RunFacts) -> str:
    data = facts.train.data if facts.train else {}
    parts = [
        f"{split}: {d.rows} rows"
        + (f" (of which {d.replay_rows} replay rows from {d.replay})" if d.replay_rows else "")
        for split, d in data.items()
    ]
    if not parts and facts.inspect:
        parts = [f"{facts.inspect.rows} rows inspected"]
    return (
        "; ".join(parts) or not_run("inspect")
    ) + f"; suitability for the intended purpose: {GAP}"


def _bias_examination(facts: RunFacts) -> str:
    if not facts.bias:
        return not_run("bias")
    share = facts.bias.identical_share
    share_text = "n/a" if share is None else f"{share:.0%}"
    return f"counterfactual name/gender swap probe on {facts.bias.n} prompts: {share_text} identical answers (section 6)"


def method_section(facts: RunFacts) -> list[Any]:
    hp = hyperparameters(facts)
    blocks: list[Any] = [Heading("3. Training method and design choices (Annex IV 2(b), Annex XI)")]
    blocks.append(Fields(hp) if hp else Para(not_run("train")))
    train = facts.train
    if train is not None:
        final = ", ".join(f"{k} {v:.4g}" for k, v in train.metrics.items())
        blocks.append(
            Fields(
                [
                    ("status", training_status(facts)),
                    ("steps", f"{train.steps} of {train.max_steps}"),
                    ("trainable parameters", train.trainable_params),
                    ("total parameters", train.total_params),
                    ("final metrics", final or None),
                ]
            )
        )
    versions = facts.summary.versions if facts.summary else None
    if versions:
        blocks.append(Para("Software: " + ", ".join(f"{k} {v}" for k, v in versions.items())))
    return blocks


def compute_section(facts: RunFacts) -> list[Any]:
    c = compute(facts)
    blocks: list[Any] = [Heading("4. Compute used (Annex XI 2(d); GPAI guidelines)")]
    if facts.train is None:
        return [*blocks, Para(not_run("train"))]
    blocks.append(
        Fields(
            [
                (
                    "Estimated training compute",
                    f"{sci(c['flops'])} FLOP ({c['tokens']} tokens; 4N per token for adapters, 6N for full fine-tuning)"
                    if c["flops"]
                    else None,
                ),
                ("Hardware", c["hardware"]),
                (
                    "Wall time",
                    f"{c['wall_time_s']:.1f} s" if c["wall_time_s"] is not None else None,
                ),
                (
                    "Energy estimate",
                    f"{c['energy_wh']:.3g} Wh = wall time x {c['power_w']:.0f} W; assumption: {c['power_basis']}"
                    if c["energy_wh"] is not None
                    else None,
                ),
                (
                    "Base model training compute",
                    f"{sci(c['base_flops'])} FLOP (6 x parameters x training tokens)"
                    if c["base_flops"]
                    else "not known for this base model",
                ),
                (
                    "One third of it",
                    f"{sci(c['third_of_base'])} FLOP" if c["third_of_base"] else "not known",
                ),
                (
                    "This fine-tune as a share of that third",
                    f"{c['share_of_third']:.2e}" if c["share_of_third"] else "not known",
                ),
            ]
        )
    )
    if c["share_of_third"] is not None:
        verdict = "below" if c["share_of_third"] < 1 else "ABOVE"
        blocks.append(
            Para(
                f"The modification used **{verdict}** one third of the base model's training compute: "
                + (
                    "on this criterion you do not become the provider of a new general-purpose model; "
                    "the high-risk duties above still apply if the use is high-risk."
                    if verdict == "below"
                    else "you may become the provider of a new general-purpose AI model (Art. 53 duties)."
                )
            )
        )
    bars = [
        ("this fine-tune", c["flops"] or 0),
        ("1/3 of base training", c["third_of_base"] or 0),
        ("GPAI indicative threshold", GPAI_THRESHOLD_FLOP),
    ]
    svg = log_bar_svg(bars)
    if svg:
        blocks.append(
            Figure(
                svg,
                "training compute of this fine-tune against one third of the base model's "
                "training compute and the 1e23 FLOP GPAI indicative threshold (log scale)",
            )
        )
    return blocks


def bias_section(facts: RunFacts) -> list[Any]:
    blocks: list[Any] = [Heading("6. Bias probe (Art. 10(2)(f))")]
    bias = facts.bias
    if not bias:
        return [*blocks, Para(not_run("bias"))]
    share = bias.identical_share
    mean = bias.mean_similarity
    blocks.append(
        Para(
            f"{bias.method} Model: {bias.model}. {bias.n} pairs; identical up to the swap: "
            f"{'n/a' if share is None else f'{share:.0%}'}; mean similarity {'n/a' if mean is None else f'{mean:.2f}'}. "
            "Differences are where a person should look; a small probe cannot show the absence of bias."
        )
    )
    rows = [
        [p.prompt, p.swapped_prompt, _short(p.answer), _short(p.swapped_answer), p.similarity]
        for p in bias.pairs
    ]
    blocks.append(
        Table(["prompt", "swapped prompt", "answer", "answer to swapped", "similarity"], rows)
    )
    return blocks


def _short(text: str, n: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 3] + "..."


DPIA_QUESTIONS = [
    (
        "Does the training data contain personal data (any information about an identifiable person)?",
        "pii",
    ),
    (
        "What is the legal basis for using it for training (Art. 6; legitimate interest needs the three-step test, EDPB Opinion 28/2024)?",
        "legal_basis",
    ),
    (
        "Does it contain special categories (health, religion, ethnicity, sexual orientation, ...; Art. 9)?",
        None,
    ),
    (
        "Is training compatible with the purpose the data was originally collected for (Art. 5(1)(b))?",
        "collection_purpose",
    ),
    ("Were the people concerned informed (Art. 13/14)?", None),
    (
        "Is the processing large-scale, or does it concern vulnerable people (employees, children, patients)?",
        None,
    ),
    (
        "Will the model be used for automated decisions with legal or similarly significant effects (Art. 22)?",
        None,
    ),
    (
        "Can erasure and access requests be honoured? (Data trained into weights cannot be removed selectively: retraining is the remedy.)",
        None,
    ),
    ("Could the model reproduce training data (memorisation)? Was this tested?", None),
    ("How long are the data, checkpoints and model kept, and who can access them?", None),
    (
        "Outcome: is a DPIA required (Art. 35(1), (3); the national authority's list)? If yes, who carries it out?",
        None,
    ),
]


def gdpr_section(facts: RunFacts) -> list[Any]:
    rows = []
    for question, key in DPIA_QUESTIONS:
        evidence = _pii_evidence(facts) if key == "pii" else ""
        answer = facts.said(key) if key and key != "pii" else None
        rows.append([question, evidence or "-", answer])
    return [
        Heading("8. GDPR: legal basis and DPIA screening (Art. 6, 9, 35)"),
        Fields([("Legal basis for personal data in training", facts.said("legal_basis"))]),
        *pii_blocks(facts),
        *data_subject_blocks(facts),
        Para("DPIA screening: answer each question; the tool fills in only what it measured."),
        Table(["question", "what the tool found", "answer"], rows),
    ]


def data_subject_blocks(facts: RunFacts) -> list[Any]:
    """The provenance index (who is in the data, for erasure requests) and the extraction audit."""
    index, audit = facts.provenance, facts.extraction
    blocks: list[Any] = [
        Para(
            "Provenance index: not written (trained before it existed); retrain to index."
            if index is None
            else f"Provenance index: {len(index.subjects)} data subject(s) recorded as salted "
            f"hashes (salt {index.salt_id}; no raw values), {len(index.files)} data file(s) "
            "with sha256. Erasure requests: `workbench erase --subject VALUE`."
        )
    ]
    blocks += canary_blocks(facts.canaries)
    if audit is None:
        blocks.append(Para("Memorisation (extraction audit): not measured; run `workbench audit`."))
        return blocks
    rows = [
        [
            side,
            f"{s.verbatim:.1%}",
            f"{s.near_verbatim:.1%}",
            f"{s.mean_chrf:.3f}",
            f"{s.pii_emitted} in {s.pii_rows} answer(s)",
            f"{s.pii_completed} of {audit.prefix_probes}",
        ]
        for side, s in (("base", audit.base), ("tuned", audit.tuned))
    ]
    header = ["model", "verbatim", "near-verbatim", "mean chrF", "training PII emitted"]
    return [
        *blocks,
        Para(
            f"Memorisation (extraction audit), measured on {audit.sample} of {audit.train_rows} "
            f"training prompts (seed {audit.seed}; {audit.pii_answers_in_sample} of their answers "
            f"held PII) and, by prefix completion, on {audit.prefix_probes} PII value(s) in "
            f"user turns. Method: {audit.method}."
        ),
        Table([*header, "prompt PII completed"], rows),
    ]


def canary_blocks(canaries: Any) -> list[Any]:
    """The canary exposure experiment (`workbench canaries`), when this run is one."""
    if canaries is None:
        return []
    rows = [
        [
            str(p.step),
            p.model,
            f"{p.mean_exposure:.2f} of {canaries.max_exposure:.2f} bits",
            f"{sum(p.extracted)}/{len(p.extracted)}",
        ]
        for p in canaries.points
    ]
    return [
        Para(
            f"Memorisation (canary exposure): {len(canaries.canaries)} synthetic canaries planted "
            f"{canaries.repeats} times each among {canaries.train_rows} training rows, ranked "
            f"against {canaries.candidates} random secrets. Method: {canaries.method}."
        ),
        Table(["step", "model", "mean exposure", "secrets extracted (greedy)"], rows),
    ]


def _pii_evidence(facts: RunFacts) -> str:
    if facts.inspect is None:
        return not_run("inspect")
    n = len(facts.inspect.pii_findings)
    return f"the offline scan found {n} PII match(es) (e-mails, phones, IBANs, cards, ...); names and addresses are not detected"


__all__ = ["ai_act_record", "DPIA_QUESTIONS"]
