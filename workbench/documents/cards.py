"""The model card (Hugging Face format with YAML metadata) and the data card, built from RunFacts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..comparison.label_metrics import points
from ..rundir import RunDir, read_json
from .facts import RunFacts, generated_note, not_run
from .numbers import (
    as_number,
    compute,
    dataset_names,
    forgetting,
    forgetting_rows,
    hyperparameters,
    metric_rows,
    sci,
)
from .render import UNKNOWN, Bullets, Document, Fields, Heading, Para, Table, cell

# -- model card ----------------------------------------------------------------------------------


def _library_name(technique: str | None) -> str:
    """peft for a technique that saves an adapter, else transformers (also when unknown)."""
    from ..errors import ConfigError
    from ..techniques import get_technique

    try:
        return "peft" if technique and get_technique(technique).saves_adapter else "transformers"
    except ConfigError:  # a technique this install does not register: assume a full model
        return "transformers"


def model_card(facts: RunFacts) -> Document:
    base = facts.base.get("base_model") or facts.param("model")
    technique = facts.param("technique")
    licence = facts.base.get("license")
    meta: dict[str, Any] = {
        "base_model": base,
        "library_name": _library_name(technique),
        # the base's licence when known; otherwise Hugging Face's "other" with the gap named
        "license": licence or "other",
        **({} if licence else {"license_name": UNKNOWN}),
        "datasets": dataset_names(facts),
        "pipeline_tag": "text-generation",
        "tags": ["workbench", *([technique] if technique else [])],
    }
    rows = metric_rows(facts)
    if rows:
        meta["model-index"] = [
            {
                "name": facts.run_dir.name,
                "results": [
                    {
                        "task": {"type": "text-generation"},
                        "dataset": {
                            "name": facts.param("eval_dataset")
                            or f"{facts.param('dataset')} (eval split)",
                            "type": "custom",
                        },
                        "metrics": [
                            {"type": r[0], "name": r[0], "value": round(float(r[2]), 4)}
                            for r in rows
                            if as_number(r[2]) is not None
                        ],
                    }
                ],
            }
        ]
    doc = Document(f"Model card: {facts.run_dir.name}", front_matter=meta)
    doc.add(
        Para(generated_note()),
        Heading("Model details"),
        Fields(
            [
                ("Fine-tuned from", base),
                ("Technique", technique),
                ("Developed by", facts.said("provider_name")),
                (
                    "Model type",
                    "causal language model" + (f", {technique} fine-tune" if technique else ""),
                ),
                ("Language(s)", facts.said("language")),
                (
                    "Licence",
                    f"{licence} (the base model's licence; confirm the licence you release under)"
                    if licence
                    else None,
                ),
            ]
        ),
    )
    doc.add(
        Heading("Uses"),
        Fields(
            [
                ("Intended purpose", facts.said("intended_purpose")),
                ("Out-of-scope uses", facts.said("out_of_scope_uses")),
            ]
        ),
    )
    doc.add(
        Heading("Training details"),
        Para("Training data: see `data_card.md` (provenance, cleaning, PII scan)."),
        Fields([("Training status", training_status(facts))]),
    )
    hp = hyperparameters(facts)
    doc.add(Fields(hp) if hp else Para(not_run("train")))
    doc.add(Heading("Evaluation"), *evaluation_blocks(facts))
    doc.add(Heading("Bias, risks and limitations"), Bullets(limitations(facts)))
    c = compute(facts)
    doc.add(
        Heading("Environmental impact"),
        Fields(
            [
                ("Hardware", c["hardware"]),
                (
                    "Training wall time",
                    f"{c['wall_time_s']:.0f} s" if c["wall_time_s"] is not None else None,
                ),
                ("Estimated training compute", f"{sci(c['flops'])} FLOP" if c["flops"] else None),
                (
                    "Estimated energy",
                    f"{c['energy_wh']:.3g} Wh ({c['power_basis']})"
                    if c["energy_wh"] is not None
                    else None,
                ),
                ("Region / carbon intensity", facts.said("region")),
            ]
        ),
    )
    if facts.retune is not None:  # `workbench retune`: a repeat on a new base is a recurring cost
        doc.add(Heading("Re-tuning on a new base"), Para(facts.retune.recurring_line()))
    doc.add(Heading("Shipping and cost per call"), *_shipping(facts))
    doc.add(Heading("How to get started"), Para(_get_started(facts)))
    return doc


def _shipping(facts: RunFacts) -> list[Any]:
    from ..shipping.card import shipping_blocks
    from ..shipping.report import ShippingReport

    return shipping_blocks(ShippingReport.load_optional(facts.run_dir))


def training_status(facts: RunFacts) -> str:
    """completed / stopped / diverged / failed with the run's own message, or that it did not run."""
    if facts.train is None:
        return not_run("train")
    return f"{facts.train.status}: {facts.train.message}"


def _get_started(facts: RunFacts) -> str:
    if facts.train is not None and facts.train.adapter_dir is None:
        return f"No trained weights were saved: training ended with status {facts.train.status}."
    weights = RunDir(facts.run_dir).adapter_dir  # where the run is now (it may have been moved)
    if facts.param("task") == "classification":
        return (
            "`base = AutoModelForSequenceClassification.from_pretrained(base_name, num_labels=N)`, "
            f'then `PeftModel.from_pretrained(base, "{weights}")` for an adapter run (the head is '
            "saved with the adapter; label names in labels.json); a full or freeze run loads "
            f'with `AutoModelForSequenceClassification.from_pretrained("{weights}")`.'
        )
    return (
        f'`from peft import PeftModel; model = PeftModel.from_pretrained(base_model, "{weights}")` '
        "(for an adapter run; a full fine-tune loads with `AutoModelForCausalLM.from_pretrained`)."
    )


def evaluation_blocks(facts: RunFacts) -> list[Any]:
    if facts.classification is not None:
        return classification_blocks(facts)
    if facts.comparison is None:
        return [Para(not_run("comparison"))]
    blocks: list[Any] = []
    rows = metric_rows(facts)
    if rows:
        blocks.append(Table(["metric", "base", "tuned", "change"], rows))
    held = constrained_line(facts)
    if held:
        blocks.append(Para(held))
    probe = forgetting(facts)
    if probe:
        verdict = (
            "FLAGGED: " + "; ".join(probe.reasons) if probe.flag else "no drop beyond the margins"
        )
        blocks.append(
            Para(
                f"Forgetting probe on `{probe.dataset}` (general questions outside the task): {verdict}."
            )
        )
        blocks.append(Table(["probe metric", "base", "tuned", "change"], forgetting_rows(facts)))
        ppl = probe.perplexity
        if ppl:
            blocks.append(
                Para("Probe perplexity: " + ", ".join(f"{k} {cell(v)}" for k, v in ppl.items()))
            )
        flips = probe.flips_line()
        if flips:  # the probe's questions the base got wrong were asked too
            blocks.append(Para(f"Known and unknown probe questions: {flips}."))
    else:
        blocks.append(Para("The forgetting probe was not run in this comparison."))
    gates = facts.summary.gates if facts.summary else []
    if gates:
        blocks.append(Para("Quality gates: " + "; ".join(g.reason for g in gates)))
    return blocks or [Para("comparison.json holds no metrics.")]


def constrained_line(facts: RunFacts) -> str | None:
    """The comparison again with both models decoded against the task's JSON schema, when run."""
    c = facts.constrained
    if c is None:
        return None
    parts = [
        f"{name} {s.base_mean:.1%} -> {s.tuned_mean:.1%}"
        for name, s in c.summary.items()
        if name in ("schema_valid", "field_accuracy")
        and s.base_mean is not None
        and s.tuned_mean is not None
    ]
    if not parts:
        return None
    return (
        f"Decoded against the task's JSON schema ({len(c.rows)} prompts, "
        "constrained_comparison.json; valid by construction unless cut at max_new_tokens): "
        + ", ".join(parts)
        + ". Free decoding above is what the model itself learned; this is what a deployment "
        "that enforces the schema returns."
    )


def classification_blocks(facts: RunFacts) -> list[Any]:
    """The tuned head against the base model prompted for a label, on the same held-out texts."""
    c = facts.classification
    rows = [
        [a.name]
        + [
            f"{a.scores[m]:.1%} [{a.intervals[m][0]:.1%}, {a.intervals[m][1]:.1%}]"
            for m in ("accuracy", "macro_f1")
        ]
        for a in c.arms
    ]
    lead = c.lead["macro_f1"]
    lo, hi = lead["interval"]
    blocks: list[Any] = [
        Para(
            f"Classification into {len(c.label_names)} labels ({', '.join(c.label_names)}), "
            f"{len(c.truth)} held-out texts; prompted arms score each label's likelihood as the "
            "base model's answer."
        ),
        Table(["arm", "accuracy (95% CI)", "macro-F1 (95% CI)"], rows),
        Para(
            f"Tuned head minus {c.best_prompt}: macro-F1 {points(lead['delta'])} "
            f"[{points(lo)}, {points(hi)}] (paired bootstrap on the same texts)."
        ),
        *[Para(note) for note in c.notes],
    ]
    tuned, best = c.tuned, c.arm(c.best_prompt)
    support = [sum(row) for row in tuned.confusion]
    per_label = [
        [name, str(support[i]), f"{tuned.f1_per_class[i]:.2f}", f"{best.f1_per_class[i]:.2f}"]
        for i, name in enumerate(c.label_names)
    ]
    blocks.append(Table(["label", "held-out rows", "F1 tuned head", f"F1 {best.name}"], per_label))
    blocks.append(
        Para("Confusion matrix of the tuned head (rows: true label, columns: predicted):")
    )
    matrix = [[name] + [str(n) for n in tuned.confusion[i]] for i, name in enumerate(c.label_names)]
    blocks.append(Table(["true label", *c.label_names], matrix))
    gates = facts.summary.gates if facts.summary else []
    if gates:
        blocks.append(Para("Quality gates: " + "; ".join(g.reason for g in gates)))
    return blocks


def limitations(facts: RunFacts) -> list[str]:
    items = []
    if facts.base.get("name") == "tiny-random":
        items.append(
            "The base is a random test model: its answers are meaningless; use it only to test the tooling."
        )
    train = facts.train
    if train is not None and not train.completed:
        items.append(
            f"Training did not complete: it ended with status **{train.status}** ({train.message})"
            + ("; no trained weights were saved." if train.adapter_dir is None else ".")
        )
    if train is not None and train.max_steps and train.steps and train.steps < 100:
        items.append(
            f"Trained for only {train.steps} steps: a demonstration, not a production model."
        )
    probe = forgetting(facts)
    if probe and probe.flag:
        items.append("General skills dropped on the forgetting probe: " + "; ".join(probe.reasons))
    if facts.bias:
        share = facts.bias.identical_share
        items.append(
            f"Counterfactual bias probe: {facts.bias.n} pairs, "
            f"{'n/a' if share is None else f'{share:.0%}'} answered identically up to the swap (see the AI Act record)."
        )
    else:
        items.append(not_run("bias"))
    items.append(
        "Evaluated only on the eval split named above; behaviour on other inputs is not measured."
    )
    items.append(
        "Personal data that reached training cannot be removed from the weights afterwards; see the data card."
    )
    return items


# -- data card -----------------------------------------------------------------------------------


def data_card(facts: RunFacts) -> Document:
    doc = Document(f"Data card: {', '.join(dataset_names(facts)) or facts.run_dir.name}")
    doc.add(Para(generated_note()), Heading("Provenance"))
    datasets = facts.summary.datasets.values() if facts.summary else []
    files = [f for d in datasets for f in d.files]
    prov = facts.inspect.provenance if facts.inspect else {}
    if files:
        doc.add(
            Table(["file", "sha256", "bytes"], [[f.path, f"`{f.sha256}`", f.bytes] for f in files])
        )
    if prov:
        doc.add(Fields([(k, v) for k, v in prov.items() if v is not None]))
    if facts.inspected_other:
        doc.add(Para(other_inspection(facts)))
    if not files and not prov:
        doc.add(Para(not_run("inspect")))
    doc.add(
        Fields(
            [
                ("Licence / terms of use", facts.said("dataset_licence")),
                ("Original collection purpose", facts.said("collection_purpose")),
                ("Language(s)", facts.said("language")),
                ("Curated by", facts.said("provider_name")),
            ]
        )
    )
    doc.add(Heading("Size and shape"), *size_blocks(facts))
    if facts.inspect is not None and facts.inspect.labels is not None:
        doc.add(Heading("Labels"), *label_blocks(facts.inspect.labels))
    doc.add(Heading("Cleaning applied"), Bullets(cleaning(facts)))
    doc.add(Heading("Personal data (PII scan)"), *pii_blocks(facts))
    doc.add(Heading("Known gaps and problems"), Bullets(known_gaps(facts)))
    return doc


def size_blocks(facts: RunFacts) -> list[Any]:
    data = facts.train.data if facts.train else {}
    rows = [[split, d.rows, d.tokens, d.truncated] for split, d in data.items()]
    if rows:
        replay = [
            Para(
                f"Of the {d.rows} {split} rows, {d.replay_rows} are replay rows from `{d.replay}` "
                "(general conversations mixed in to limit forgetting; their licence is that "
                "dataset's)."
            )
            for split, d in data.items()
            if getattr(d, "replay_rows", 0)
        ]
        return [Table(["split", "rows", "tokens", "truncated"], rows), *replay]
    if facts.inspect is not None:
        return [Fields([("rows", facts.inspect.rows), ("format", facts.inspect.format)])]
    return [Para(not_run("inspect"))]


def label_blocks(labels: Any) -> list[Any]:
    """Class balance and label-noise numbers of labelled training data (inspection/labels.py)."""
    rows = [
        [name, labels.counts[name], f"{labels.shares[name]:.1%}"] for name in labels.label_names
    ]
    ratio = "n/a" if labels.imbalance_ratio is None else f"{labels.imbalance_ratio:.2f}x"
    return [
        Table(["label", "rows", "share"], rows),
        Fields(
            [
                ("largest / smallest class", ratio),
                ("rare classes", ", ".join(labels.rare) or "none"),
                ("classes without a row", ", ".join(labels.empty) or "none"),
                (
                    "label-noise candidates (near copies labelled differently)",
                    f"{labels.noise_rows} row(s) in {labels.noise_clusters} cluster(s)",
                ),
            ]
        ),
    ]


def other_inspection(facts: RunFacts) -> str:
    return (
        f"The run trained on `{facts.trained_data}`, but notebook 01 inspected "
        f"`{facts.inspected_other}`: that report does not describe the training data, so the "
        "cleaning, PII and gap entries below are left open. Inspect the training data "
        f'(notebook 01 with dataset = "{facts.trained_data}") to fill them in.'
    )


def cleaning(facts: RunFacts) -> list[str]:
    """What `clean` did to the training data, from the log `clean` left beside the cleaned copy."""
    items = []
    trained = Path(str(facts.trained_data or "")).resolve()
    for log_path in RunDir(facts.run_dir).clean_logs():
        if log_path.resolve() != trained.with_name(trained.stem + ".clean_log.json"):
            continue  # the log of a cleaned copy this run did not train on
        data = read_json(log_path) or {}  # CleanResult.to_dict (no typed reader yet)
        counts = (
            ", ".join(f"{n} x {what}" for what, n in (data.get("counts") or {}).items())
            or "no changes"
        )
        items.append(
            f"`{log_path.relative_to(facts.run_dir)}`: {data.get('rows_before')} -> {data.get('rows_after')} rows ({counts})"
        )
    if items:
        return items
    if facts.inspect is None:
        return [not_run("inspect")]
    return [
        "No cleaning was recorded: the data was trained as loaded (rows the loader could not read were skipped)."
    ]


def pii_blocks(facts: RunFacts) -> list[Any]:
    insp = facts.inspect
    if insp is None:
        return [Para(not_run("inspect"))]
    counts = insp.pii_counts
    blocks: list[Any] = (
        [Table(["kind", "matches"], [[k, v] for k, v in counts.items()])] if counts else []
    )
    rows = "not recorded" if insp.rows_with_pii is None else insp.rows_with_pii
    blocks.append(Para(f"{len(insp.pii_findings)} PII finding(s); rows with PII: {rows}."))
    if insp.pii_not_detected:
        blocks.append(Para(f"Not detected by this scan: {insp.pii_not_detected}."))
    return blocks


def known_gaps(facts: RunFacts) -> list[str]:
    insp = facts.inspect
    if insp is None:
        return [not_run("inspect")]
    counts: dict[tuple[str, str], int] = {}
    for f in insp.findings:
        counts[(f.severity, f.kind)] = counts.get((f.severity, f.kind), 0) + 1
    items = [f"{n} x {kind} ({sev})" for (sev, kind), n in sorted(counts.items())]
    items.append(
        "Representativeness of the data for the intended setting: _to be completed by the provider_"
    )
    return items


__all__ = [
    "model_card",
    "data_card",
    "evaluation_blocks",
    "training_status",
    "limitations",
    "cleaning",
    "other_inspection",
    "pii_blocks",
    "known_gaps",
]
