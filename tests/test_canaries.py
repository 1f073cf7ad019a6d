"""Canary exposure (provenance/canaries.py): planted synthetic secrets, ranked among random ones.

On the tiny model: a LoRA run over-fitted on a few rows with the canaries planted raises their
exposure from the base's to near the ceiling and lets greedy answers give the secrets back; the
source data is untouched; the planting, ranking and refusals are checked on their own.
"""

from __future__ import annotations

import hashlib
import json
import math

import pytest
from test_train import conversations

from workbench.config import TrainConfig
from workbench.errors import ConfigError
from workbench.provenance.canaries import (
    CanaryAudit,
    make_canaries,
    plant,
    run_canary_audit,
)
from workbench.rundir import RunDir


def test_canaries_are_seeded_distinct_and_planted_without_touching_the_rows():
    canaries = make_canaries(3, seed=5)
    assert canaries == make_canaries(3, seed=5) and canaries != make_canaries(3, seed=6)
    assert len({c.name for c in canaries}) == 3
    assert all(len(c.secret) == 6 and c.secret.isdigit() for c in canaries)
    rows = conversations(10)
    before = json.dumps(rows)
    planted = plant(rows, canaries, repeats=4)
    assert json.dumps(rows) == before and len(planted) == 10 + 3 * 4
    for c in canaries:
        assert sum(r == c.conversation() for r in planted) == 4
    assert [r for r in planted if r in rows] == rows  # the other rows keep their order
    with pytest.raises(ConfigError, match="repeats must be >= 1"):
        plant(rows, canaries, repeats=0)
    with pytest.raises(ConfigError, match="count must be in 1..10"):
        make_canaries(11)


@pytest.mark.slow
def test_exposure_rises_with_training_and_the_secrets_come_back(tiny_model_dir, tmp_path):
    data = tmp_path / "chat.jsonl"
    data.write_text("".join(json.dumps({"messages": c}) + "\n" for c in conversations(12)))
    digest = hashlib.sha256(data.read_bytes()).hexdigest()
    cfg = TrainConfig(
        model="tiny-random",
        dataset=str(data),
        eval_fraction=0.25,
        run_dir=str(tmp_path / "run"),
        max_steps=160,
        batch_size=4,
        max_length=128,
        learning_rate=3e-3,  # lr 1e-2 and above leave this tiny LoRA at its starting loss
        warmup_ratio=0.0,
        eval_at_start=False,
        report_to="none",
    )
    audit = run_canary_audit(cfg, count=2, repeats=8, candidates=99)
    assert hashlib.sha256(data.read_bytes()).hexdigest() == digest  # the source is untouched
    assert CanaryAudit.load(cfg.run_dir) == audit
    assert [p.step for p in audit.points] == [0, 40, 80, 120, 160]
    base, first, last = audit.points[0], audit.points[1], audit.points[-1]
    assert audit.max_exposure == pytest.approx(math.log2(100), abs=1e-3)
    assert base.mean_exposure < 3 and not any(base.extracted)
    assert last.mean_exposure > base.mean_exposure + 3 and last.mean_exposure >= first.mean_exposure
    assert last.ranks == [1, 1] and any(last.extracted)  # ranked first before it is extracted
    planted = RunDir(cfg.run_dir).canaries_dir / "train.jsonl"
    lines = planted.read_text().splitlines()
    assert len(lines) == audit.train_rows == 9 + 2 * 8  # 12 rows, a quarter held out, + canaries


def test_what_the_canary_audit_refuses(tmp_path):
    with pytest.raises(ConfigError, match="needs an instruction-tuning adapter run"):
        run_canary_audit(TrainConfig(technique="full", run_dir=str(tmp_path / "a")))
    with pytest.raises(ConfigError, match="set max_steps > 0"):
        run_canary_audit(TrainConfig(max_steps=-1, run_dir=str(tmp_path / "b")))


def test_the_gdpr_record_quotes_the_canary_exposure(tmp_path):
    from workbench.documents.writer import write_run_docs
    from workbench.provenance.canaries import CanaryPoint
    from workbench.training.claim import claim

    run = claim(RunDir(tmp_path / "run"))
    CanaryAudit(
        method="secret-sharer (test)",
        canaries=make_canaries(2),
        repeats=4,
        candidates=99,
        max_exposure=math.log2(100),
        train_rows=17,
        points=[
            CanaryPoint(0, "base", [56, 66], [0.84, 0.6], [False, False]),
            CanaryPoint(40, "checkpoint-40", [1, 1], [6.64, 6.64], [True, False]),
        ],
    ).save(run.root)
    write_run_docs(run_dir=run.root)
    record = (run.docs_dir / "ai_act_record.md").read_text()
    assert "2 synthetic canaries planted 4 times each among 17 training rows" in record
    assert "| 40 | checkpoint-40 | 6.64 of 6.64 bits | 1/2 |" in record


def test_the_cli_refuses_a_full_fine_tune_in_one_line(tmp_path, capsys):
    from workbench.cli import main

    params = tmp_path / "p.yaml"
    params.write_text(f"technique: full\nmax_steps: 4\nrun_dir: {tmp_path / 'run'}\n")
    assert main(["canaries", str(params)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs an instruction-tuning adapter run" in err[0]
    assert not (tmp_path / "run").exists()  # refused before anything was written


def _full_forward_log_likelihoods(model, tokenizer, conversations):
    """The reference: every row through the whole model, its assistant tokens summed."""
    import torch

    from workbench.templating import encode_chat

    out = []
    for conv in conversations:
        e = encode_chat(tokenizer, conv, max_length=256)
        with torch.inference_mode():
            logits = model(torch.tensor([e.input_ids])).logits[0, :-1].float()
        logp = torch.log_softmax(logits, dim=-1)
        picked = logp.gather(-1, torch.tensor(e.input_ids[1:]).unsqueeze(-1)).squeeze(-1)
        out.append(float((picked * torch.tensor(e.labels_mask[1:])).sum()))
    return out


def test_the_shared_prefix_cache_scores_exactly_like_full_forwards(tiny_model_dir):
    """Candidates share the prompt and the answer's start; scoring them on one cached prefix
    gives each row's full-forward log-likelihood (rows of unequal length, batches that split)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from workbench.provenance.canaries import answer_log_likelihoods

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    canary = make_canaries(1, seed=3)[0]
    rows = [canary.conversation()] + [canary.conversation(s) for s in ("000000", "123", "98765")]
    rows.append([{"role": "user", "content": canary.question},
                 {"role": "assistant", "content": "No idea."}])  # fmt: skip
    want = _full_forward_log_likelihoods(model, tok, rows)
    for batch_size in (2, 64):
        # the candidates alone share the answer's first words too ("The PIN on file for ... is")
        for group in (rows[:4], rows):
            got = answer_log_likelihoods(model, tok, group, batch_size=batch_size)
            assert got == pytest.approx(want[: len(group)], abs=1e-4), (batch_size, got, want)
    unrelated = [conversations(1)[0], rows[0]]  # nothing shared but the template's first tokens
    assert answer_log_likelihoods(model, tok, unrelated) == pytest.approx(
        _full_forward_log_likelihoods(model, tok, unrelated), abs=1e-4
    )
