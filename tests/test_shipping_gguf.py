"""GGUF export on the tiny model: written with `gguf`, read back by transformers, answers and perplexity checked."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.errors import ModelError
from workbench.rundir import RunDir
from workbench.shipping.export import export_run
from workbench.shipping.gguf import permute_rotary, write_gguf
from workbench.shipping.report import ShippingReport


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_runs):
    run_dir = tiny_runs.copy(tmp_path_factory.mktemp("gguf"), "lora")
    report = export_run(run_dir, gguf=("f16", "q8_0", "q4_0"), max_prompts=4, max_new_tokens=16)
    return run_dir, report


def test_permutation_is_the_one_transformers_undoes():
    from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor

    w = np.arange(8 * 16 * 3, dtype=np.float32).reshape(8 * 16, 3)  # 8 heads of 16 rows
    permuted = permute_rotary(w, 8)
    assert not np.array_equal(permuted, w)
    back = LlamaTensorProcessor()._reverse_permute_weights(permuted, 8, 8)
    assert np.array_equal(back, w)


def test_f16_answers_and_tokens_equal_the_merged_model(exported):
    run_dir, report = exported
    f16 = {g.quant: g for g in report.gguf}["f16"]
    assert f16.tokens_equal
    assert f16.answers_equal == f16.prompts == 4
    assert f16.perplexity_gguf == pytest.approx(f16.perplexity_merged, rel=1e-3)
    assert ShippingReport.load(run_dir).gguf == report.gguf


def test_quantised_files_are_smaller_and_close(exported):
    run_dir, report = exported
    by = {g.quant: g for g in report.gguf}
    assert by["q4_0"].size_bytes < by["q8_0"].size_bytes < by["f16"].size_bytes
    assert by["q8_0"].perplexity_gguf == pytest.approx(by["q8_0"].perplexity_merged, rel=0.02)
    assert by["q4_0"].perplexity_gguf == pytest.approx(by["q4_0"].perplexity_merged, rel=0.2)


def test_tokenizer_and_chat_template_are_embedded(exported):
    import gguf
    from transformers import AutoTokenizer

    run_dir, _ = exported
    rd = RunDir(run_dir)
    tok = AutoTokenizer.from_pretrained(rd.export_merged_dir)
    reader = gguf.GGUFReader(rd.gguf_file("q8_0"))
    fields = {k: f.contents() for k, f in reader.fields.items() if k.startswith("tokenizer.")}
    assert fields["tokenizer.chat_template"] == tok.chat_template
    assert fields["tokenizer.ggml.model"] == "gpt2"
    assert len(fields["tokenizer.ggml.tokens"]) == len(tok)
    assert fields["tokenizer.ggml.eos_token_id"] == tok.eos_token_id
    assert len(fields["tokenizer.ggml.merges"]) > 100


def test_modelfile_points_at_the_q8_file_with_chatml_stops(exported):
    run_dir, _ = exported
    text = RunDir(run_dir).modelfile.read_text()
    assert text.startswith("FROM ./model-q8_0.gguf\n")
    assert 'PARAMETER stop "<|im_end|>"' in text
    assert "<|im_start|>{{ .Role }}" in text and "<|im_start|>assistant" in text


def test_unsupported_architecture_is_refused_without_a_file(tmp_path, tiny_model_dir):
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    folder = tmp_path / "gpt2"
    GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=1024)).save_pretrained(
        folder
    )
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(folder)
    out = tmp_path / "out" / "model.gguf"
    with pytest.raises(ModelError, match="Llama-family"):
        write_gguf(folder, out, quant="f16")
    assert not out.parent.exists() or not any(out.parent.iterdir())


def test_unknown_quant_is_refused(exported, tmp_path):
    run_dir, _ = exported
    with pytest.raises(ModelError, match="q4_k"):
        write_gguf(RunDir(run_dir).export_merged_dir, tmp_path / "m.gguf", quant="q4_k")
    assert not (tmp_path / "m.gguf").exists()


def test_f32_round_trip_keeps_logits_with_sharp_attention(tmp_path, tiny_model_dir):
    """Scaled-up q/k make attention depend on position, so a wrong rotary permutation shows."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from workbench.shipping.export import load_gguf

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.q_proj.weight.mul_(30)
            layer.self_attn.k_proj.weight.mul_(30)
    model.save_pretrained(tmp_path / "sharp")
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(tmp_path / "sharp")
    path = write_gguf(tmp_path / "sharp", tmp_path / "sharp.gguf", quant="f32")
    loaded, _ = load_gguf(path)
    ids = torch.arange(3, 43).unsqueeze(0)
    with torch.no_grad():
        want, got = model(input_ids=ids).logits, loaded(input_ids=ids).logits
    assert float((want - got).abs().max()) < 1e-4


def test_pre_tokenizer_names_and_refusal(tiny_model_dir):
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers
    from transformers import AutoTokenizer, PreTrainedTokenizerFast
    from transformers.integrations.gguf.gguf_tokenizer_mapping import GGUF_PRE_TOKENIZER_SPLITS

    from workbench.shipping.gguf import pre_tokenizer_name

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert pre_tokenizer_name(tok) == "gpt2"
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), byte_level]
    )
    assert pre_tokenizer_name(tok) == "smollm"
    llama3 = GGUF_PRE_TOKENIZER_SPLITS["llama-bpe"]
    tok.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(llama3), behavior="isolated"), byte_level]
    )
    assert pre_tokenizer_name(tok) == "llama-bpe"
    tok.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(r"\s+"), behavior="isolated"), byte_level]
    )
    with pytest.raises(ModelError, match="unknown pre-tokenizer"):
        pre_tokenizer_name(tok)
    word_level = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]"))
    )
    with pytest.raises(ModelError, match="byte-level BPE"):
        pre_tokenizer_name(word_level)
