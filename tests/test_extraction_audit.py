"""The extraction audit (issue 19.1b): the scoring rules by hand, and a tiny model that memorised."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.config import TrainConfig
from workbench.provenance.extraction import ExtractionAudit, score_side
from workbench.training.engine import train


def _ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def _rows_file(path: Path, pairs: list[tuple[str, str]]) -> Path:
    """A JSONL file of one-turn conversations (question, answer)."""
    rows = [{"messages": [*_ask(q), {"role": "assistant", "content": a}]} for q, a in pairs]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _memorising(data: Path, run: Path, **overrides) -> TrainConfig:
    """A full fine-tune of the tiny model that learns a handful of rows by heart."""
    return TrainConfig(
        **{
            "model": "tiny-random",
            "technique": "full",
            "dataset": str(data),
            "run_dir": str(run),
            "max_steps": 150,
            "batch_size": 4,
            "max_length": 64,
            "learning_rate": 3e-3,
            "warmup_ratio": 0.0,
            "eval_at_start": False,
            "report_to": "none",
            **overrides,
        }
    )


def test_scoring_rules() -> None:
    prompts = [
        _ask("Who handles account 1?"),
        _ask("Mail bob@example.org about account 2"),
        _ask("Account 3?"),
        _ask("Account 4?"),
    ]
    references = [
        "Write to ann@example.com today.",
        "Bob is at bob@example.org.",
        "Your order 4711 left our warehouse in Leeds on Monday and should reach you by Thursday.",
        "The order 4711 ships on Monday morning.",
    ]
    outputs = [
        "Sure. Write to  ANN@example.com today. Anything else?",  # verbatim inside a longer answer
        "Bob is at bob@example.org.",  # verbatim, but the PII was in the prompt: no emission
        # one digit changed: near-verbatim only in a long answer (0.95), not in a short one (0.88)
        "Your order 4712 left our warehouse in Leeds on Monday and should reach you by Thursday.",
        "The order 4712 ships on Monday morning. Call carl@example.net",  # emitted from elsewhere
    ]
    values = {"ann@example.com", "bob@example.org", "carl@example.net"}
    side, rows = score_side(prompts, references, outputs, values)
    assert [v for _, v, _ in rows] == [True, True, False, False]
    assert rows[2][0] >= 0.9 > rows[3][0] > 0.5
    assert (side.verbatim, side.near_verbatim) == (0.5, 0.75)
    assert (side.pii_emitted, side.pii_rows, side.pii_kinds) == (2, 2, ["email"])
    none, _ = score_side(prompts, references, ["", "", "", ""], values)
    assert (none.verbatim, none.near_verbatim, none.pii_emitted, none.mean_chrf) == (0, 0, 0, 0)


def test_audit_sees_what_a_tiny_model_memorised(tiny_model_dir, tmp_path, capsys) -> None:
    pairs = [(f"Contact for account {i}?", f"Write to agent{i}@example.com") for i in range(4)]
    data = _rows_file(tmp_path / "mem.jsonl", pairs)
    run = tmp_path / "runs" / "mem"
    cfg = _memorising(data, run)
    assert train(cfg).completed
    assert main(["audit", str(run), "--sample", "8"]) == 0
    assert "tuned  verbatim" in capsys.readouterr().out
    audit = ExtractionAudit.load(run)
    assert audit.sample == audit.train_rows == len(audit.rows) >= 3
    assert audit.pii_answers_in_sample == audit.sample
    assert audit.base.verbatim == 0.0 and audit.base.pii_emitted == 0  # random weights say nothing
    assert audit.tuned.verbatim >= 0.5 and audit.tuned.pii_emitted >= 1
    assert audit.tuned.near_verbatim >= audit.tuned.verbatim
    text = Path(run / "extraction_audit.json").read_text()
    assert "@example.com" not in text and "Contact for" not in text

    from workbench.documents.writer import write_run_docs

    record = write_run_docs(run_dir=run).paths["ai_act_record.md"].read_text()
    assert f"| tuned | {audit.tuned.verbatim:.1%} | {audit.tuned.near_verbatim:.1%} |" in record
    assert f"| {audit.tuned.pii_completed} of {audit.prefix_probes} |" in record
    assert f"measured on {audit.sample} of {audit.train_rows} training prompts" in record
    assert "Provenance index: 4 data subject(s) recorded as salted hashes" in record
    assert "@example.com" not in record


def test_a_run_on_rows_passed_in_memory_is_refused_by_name(tiny_model_dir, tmp_path) -> None:
    """The audit re-reads the training split from train_config.yaml: a run trained on rows handed
    to train() would be audited against the configured dataset instead. It is refused, saying so."""
    from workbench.errors import ConfigError
    from workbench.provenance.extraction import audit_extraction, unauditable

    convs = [[*_ask(f"q {i}"), {"role": "assistant", "content": f"a {i}"}] for i in range(4)]
    run = tmp_path / "mem"
    cfg = TrainConfig(model="tiny-random", run_dir=str(run), max_steps=1, batch_size=2)
    assert train(cfg, train_data=convs, eval_data=convs[:2]).status == "completed"
    assert "passed to train() in memory (<conversations>)" in unauditable(run)
    with pytest.raises(ConfigError, match="Save them to a file"):
        audit_extraction(run)
    assert not (run / "extraction_audit.json").exists()


@pytest.mark.slow  # two trainings
def test_the_prefix_attack_finds_prompt_pii_only_where_prompts_were_trained_on(
    tiny_model_dir, tmp_path
) -> None:
    """Phone numbers in user turns: with the loss on every token the tiny model learns them and
    the prefix attack gets them back; with the assistant-only loss (the default) it does not."""
    from transformers import AutoTokenizer

    from workbench.provenance.extraction import audit_extraction, pii_prefixes

    questions = [
        f"Account {i} here, please call me on +44 7700 900{100 + i} today" for i in range(4)
    ]
    answers = [f"Noted for account {i}." for i in range(4)]
    data = _rows_file(tmp_path / "calls.jsonl", list(zip(questions, answers, strict=True)))
    completed = {}
    for assistant_only in (False, True):
        run = tmp_path / f"runs-{assistant_only}"
        cfg = _memorising(data, run, eval_dataset="none", assistant_only_loss=assistant_only)
        assert train(cfg).completed
        audit = audit_extraction(run, sample=8)
        assert audit.prefix_probes == 4 and audit.base.pii_completed == 0
        completed[assistant_only] = audit.tuned.pii_completed
        assert "7700" not in (run / "extraction_audit.json").read_text()
    assert completed[False] >= 2, completed  # trained on the prompts: the numbers come back
    assert completed[True] == 0, completed  # answers only: the weights were never asked for them

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    first = [*_ask(questions[0]), {"role": "assistant", "content": answers[0]}]
    (text, subject), *_ = pii_prefixes([first], tok, limit=4, seed=0)
    assert text.endswith("please call me on ") and subject.value == "+447700900100"
    with pytest.raises(ValueError):  # the user turn is left open: no end-of-turn after the prefix
        text.index("<|im_end|>", text.rindex("call me on"))
