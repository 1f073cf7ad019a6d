"""Model resolution and loading: the tiny model, clear errors, dtype policy, the cache marker."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import torch

from workbench import models
from workbench.errors import ModelError
from workbench.models import COMPLETE_MARKER, DEFAULT_MODEL, TINY_MODEL, load_model


def greedy(model, tokenizer, question: str, max_new_tokens: int = 12) -> str:
    batch = tokenizer.apply_chat_template(
        [{"role": "user", "content": question}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False)
    return tokenizer.decode(out[0, batch["input_ids"].shape[1] :], skip_special_tokens=True)


def test_tiny_model_builds_and_generates(tiny_model_dir):
    assert (tiny_model_dir / COMPLETE_MARKER).is_file()
    model, tokenizer = load_model(TINY_MODEL, technique="full")
    assert model.config.num_hidden_layers == 2 and tokenizer.pad_token is not None
    batch = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hi"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    assert tokenizer.decode(batch["input_ids"][0]).endswith("<|im_start|>assistant\n")
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=5, do_sample=False, min_new_tokens=5)
    assert out.shape[1] == batch["input_ids"].shape[1] + 5


def test_cpu_dtype_is_float32(tiny_model_dir):
    assert models.choose_dtype("cpu") is torch.float32
    assert models.choose_dtype("cpu", "auto") is torch.float32
    assert (
        models.choose_dtype("cpu", "bfloat16") is torch.bfloat16
    )  # an explicit choice is honoured
    model, _ = load_model(TINY_MODEL, technique="full", device="cpu")
    assert {p.dtype for p in model.parameters()} == {torch.float32}


def test_unknown_name_lists_the_known_models():
    with pytest.raises(ModelError) as err:
        load_model("no-such-model", technique="full")
    assert DEFAULT_MODEL in str(err.value) and TINY_MODEL in str(err.value)


def test_folder_without_config_is_a_model_error(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"\0")
    with pytest.raises(ModelError, match="no config.json"):
        load_model(str(tmp_path), technique="full")


def test_offline_hub_id_is_a_clear_model_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="not in the local Hugging Face cache") as err:
        load_model("workbench-tests/no-such-model", technique="full")
    assert "offline (HF_HUB_OFFLINE is set)" in str(err.value) and DEFAULT_MODEL in str(err.value)


@pytest.mark.slow
def test_hub_id_without_a_network_fails_at_once(tmp_path):
    """No HF_HUB_OFFLINE, the hub unreachable: one quick connect, then the local cache only.

    A fresh process (huggingface_hub reads its settings at import) whose hub endpoint is a closed
    local port; before the check, the hub client retried for 50-77 s.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HTTP", "ALL_PROXY"))}
    env |= {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HOME": str(tmp_path / "hf")}
    code = (
        "from workbench.models import load_model\n"
        "try:\n    load_model('workbench-tests/no-such-model', technique='full')\n"
        "except Exception as exc:\n    print(type(exc).__name__, exc)\n"
    )
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    seconds = time.monotonic() - started
    assert proc.stdout.startswith("ModelError 'workbench-tests/no-such-model' is not in the local")
    assert "offline (127.0.0.1:9 is not reachable)" in proc.stdout
    assert seconds < 20, f"{seconds:.0f} s: {proc.stderr[-500:]}"


def test_half_written_cache_is_not_used(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    half = models.model_dir(TINY_MODEL)
    half.mkdir(parents=True)
    (half / "config.json").write_text("{ interrupted")  # a crash mid-build left this behind
    assert not models.is_cached(TINY_MODEL)
    built = models.ensure_tiny_model()
    assert built == half and models.is_cached(TINY_MODEL)
    assert (built / "config.json").read_text().startswith("{\n")  # rebuilt, not the leftover
    model, _ = load_model(TINY_MODEL, technique="full")
    assert model.config.vocab_size > 256


def test_marker_alone_decides_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    folder = models.model_dir(DEFAULT_MODEL)
    folder.mkdir(parents=True)
    assert not models.is_cached(DEFAULT_MODEL)
    (folder / COMPLETE_MARKER).write_text("done\n")
    assert models.is_cached(DEFAULT_MODEL)
    models.remove_cached(DEFAULT_MODEL)
    assert not folder.exists()


@pytest.mark.slow
def test_default_model_knows_the_capital_of_france():
    model, tokenizer = load_model(DEFAULT_MODEL, technique="full")
    assert next(model.parameters()).dtype is torch.float32
    assert "Paris" in greedy(model, tokenizer, "What is the capital of France?")


@pytest.mark.slow
def test_default_model_answers_most_of_the_general_probe():
    """The forgetting probe only means something if the base model passes it: scripts/sample_probe.py
    kept the questions it answered in its first sentence; asked here with plain `generate`, 32 tokens."""
    from workbench.data.dataset import load_dataset

    model, tokenizer = load_model(DEFAULT_MODEL, technique="full")
    tokenizer.padding_side = "left"
    probe = load_dataset("general-probe", split="eval")
    prompts = [
        tokenizer.apply_chat_template(c[:-1], add_generation_prompt=True, tokenize=False)
        for c in probe
    ]
    hits = 0
    for start in range(0, len(prompts), 20):
        batch = tokenizer(
            prompts[start : start + 20], return_tensors="pt", padding=True, add_special_tokens=False
        )
        with torch.no_grad():
            out = model.generate(**batch, max_new_tokens=32, do_sample=False)
        answers = tokenizer.batch_decode(
            out[:, batch["input_ids"].shape[1] :], skip_special_tokens=True
        )
        refs = [c[-1]["content"] for c in probe.conversations[start : start + 20]]
        hits += sum(
            ref.lower() in answer.lower() for ref, answer in zip(refs, answers, strict=True)
        )
    assert hits / len(probe) >= 0.9, f"{hits}/{len(probe)}"
