"""GGUF export of a merged Llama-family model with the `gguf` library: weights, byte-level BPE tokenizer, chat template.

Follows llama.cpp's convert_hf_to_gguf.py for Llama: tensor names `blk.N.attn_q` etc., q/k rows
permuted from Hugging Face's rotary layout to llama.cpp's, no `output.weight` when the embeddings
are tied, norms kept float32. Anything else is refused before a byte is written.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from ..errors import ModelError

log = logging.getLogger(__name__)

SUPPORTED_ARCHITECTURES = ("LlamaForCausalLM",)
QUANTS = ("f32", "f16", "bf16", "q8_0", "q5_1", "q5_0", "q4_1", "q4_0")  # gguf's numpy quantizers
LAYER_NAMES = {
    "input_layernorm": "attn_norm",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "post_attention_layernorm": "ffn_norm",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
TOP_NAMES = {"model.embed_tokens": "token_embd", "model.norm": "output_norm", "lm_head": "output"}
NORMAL, CONTROL, USER_DEFINED, UNUSED = 1, 3, 4, 5  # llama.cpp token types


def check_supported(config: Any, tokenizer: Any, quant: str) -> str:
    """The llama.cpp pre-tokenizer name for this model; ModelError saying why when it cannot be exported."""
    archs = list(getattr(config, "architectures", None) or [])
    if archs != list(SUPPORTED_ARCHITECTURES[:1]) or config.model_type != "llama":
        raise ModelError(
            f"GGUF export supports Llama-family models ({', '.join(SUPPORTED_ARCHITECTURES)}, "
            f"e.g. SmolLM2); this model is {archs or config.model_type}. Export the merged "
            "safetensors instead, or convert with llama.cpp's convert_hf_to_gguf.py."
        )
    if quant not in QUANTS:
        raise ModelError(f"Unknown GGUF type {quant!r}; choose from {', '.join(QUANTS)}.")
    rope = getattr(config, "rope_parameters", None) or {}
    if rope.get("rope_type", "default") != "default":
        raise ModelError(f"GGUF export handles plain RoPE only; this model uses {rope}.")
    if getattr(config, "attention_bias", False) or getattr(config, "mlp_bias", False):
        raise ModelError("GGUF export of Llama models with bias terms is not supported.")
    return pre_tokenizer_name(tokenizer)


def pre_tokenizer_name(tokenizer: Any) -> str:
    """llama.cpp's name for how the tokenizer splits text before BPE: gpt2, smollm or llama-bpe."""
    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    if (spec.get("model") or {}).get("type") != "BPE" or "ByteLevel" not in json.dumps(
        spec.get("pre_tokenizer")
    ):
        raise ModelError(
            "GGUF export supports byte-level BPE tokenizers (GPT-2 style, as SmolLM2 and Llama 3 "
            "use); this tokenizer is not one, so the file would tokenize differently."
        )
    pre = spec["pre_tokenizer"]
    steps = [p["type"] for p in pre.get("pretokenizers", [])] if pre["type"] == "Sequence" else []
    if pre["type"] == "ByteLevel" and pre.get("use_regex", True):
        return "gpt2"
    if steps == ["Digits", "ByteLevel"] and pre["pretokenizers"][0].get("individual_digits"):
        return "smollm"
    if steps == ["Split", "ByteLevel"] and _split_regex(pre) == _loader_split("llama-bpe"):
        return "llama-bpe"
    raise ModelError(f"GGUF export: unknown pre-tokenizer {json.dumps(pre)[:200]}.")


def _split_regex(pre: dict[str, Any]) -> str | None:
    return (pre["pretokenizers"][0].get("pattern") or {}).get("Regex")


def _loader_split(name: str) -> str | None:
    """The split regex transformers' GGUF loader applies for llama.cpp pre-tokenizer `name`."""
    from transformers.integrations.gguf.gguf_tokenizer_mapping import GGUF_PRE_TOKENIZER_SPLITS

    return GGUF_PRE_TOKENIZER_SPLITS.get(name)


def permute_rotary(weights: Any, n_head: int) -> Any:
    """Hugging Face's q/k row order (halves) to llama.cpp's (interleaved pairs), per head."""
    rows = weights.shape[0]
    return (
        weights.reshape(n_head, 2, rows // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def gguf_tensors(state: dict[str, Any], config: Any) -> list[tuple[str, Any]]:
    """(GGUF name, float32 numpy array) for every weight, q/k permuted; the tied head left out."""
    out = []
    for name, tensor in state.items():
        if name == "lm_head.weight" and config.tie_word_embeddings:
            continue
        array = tensor.detach().float().cpu().numpy()
        if ".q_proj." in name:
            array = permute_rotary(array, config.num_attention_heads)
        elif ".k_proj." in name:
            array = permute_rotary(array, config.num_key_value_heads)
        out.append((_gguf_name(name), array))
    return out


def _gguf_name(name: str) -> str:
    stem, _, kind = name.rpartition(".")
    if stem in TOP_NAMES:
        return f"{TOP_NAMES[stem]}.{kind}"
    parts = stem.split(".")  # model.layers.N.<module...>
    if parts[:2] != ["model", "layers"] or ".".join(parts[3:]) not in LAYER_NAMES:
        raise ModelError(
            f"GGUF export: no llama.cpp name for tensor {name!r} (Can not map tensor)."
        )
    return f"blk.{parts[2]}.{LAYER_NAMES['.'.join(parts[3:])]}.{kind}"


def encode_tensor(array: Any, quant: str) -> tuple[Any, Any]:
    """(data, GGML type): 1-D tensors stay float32, as llama.cpp keeps them; 2-D ones take `quant`."""
    import numpy as np
    from gguf import GGMLQuantizationType, quants

    if array.ndim == 1 or quant == "f32":
        return array.astype(np.float32), GGMLQuantizationType.F32
    if quant == "f16":
        return array.astype(np.float16), GGMLQuantizationType.F16
    qtype = GGMLQuantizationType[quant.upper()]
    block = quants.GGML_QUANT_SIZES[qtype][0]
    if array.shape[-1] % block:
        raise ModelError(
            f"GGUF {quant}: rows of {array.shape[-1]} values do not split into blocks of {block}; "
            "choose f16 for this model."
        )
    return quants.quantize(array, qtype), qtype


def token_table(tokenizer: Any, vocab_size: int) -> tuple[list[str], list[int]]:
    """Tokens by id and their llama.cpp types; ids the tokenizer lacks up to `vocab_size` become unused pads."""
    by_id = {i: t for t, i in tokenizer.get_vocab().items()}
    added = tokenizer.added_tokens_decoder
    tokens, types = [], []
    for i in range(vocab_size):
        if i not in by_id:
            tokens.append(f"[PAD{i}]")
            types.append(UNUSED)
            continue
        tokens.append(by_id[i])
        special = i in added and added[i].special
        types.append(CONTROL if special else USER_DEFINED if i in added else NORMAL)
    return tokens, types


def bpe_merges(tokenizer: Any) -> list[str]:
    merges = json.loads(tokenizer.backend_tokenizer.to_str())["model"]["merges"]
    return [m if isinstance(m, str) else " ".join(m) for m in merges]


def write_gguf(model_dir: str | Path, out_file: str | Path, *, quant: str = "f16") -> Path:
    """Write the merged model at `model_dir` as one GGUF file (atomically: temp file, then rename)."""
    import gguf
    from transformers import AutoConfig, AutoTokenizer

    from ..io import temp_prefix

    model_dir, out_file = Path(model_dir), Path(out_file)
    config = AutoConfig.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    pre = check_supported(config, tokenizer, quant)
    tensors = [(n, *encode_tensor(a, quant)) for n, a in gguf_tensors(_state(model_dir), config)]
    out_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_file.with_name(f"{temp_prefix(out_file.name)}.tmp")
    writer = gguf.GGUFWriter(str(tmp), "llama")
    try:
        _write_metadata(writer, config, quant, model_dir.name)
        _write_tokenizer(writer, tokenizer, config.vocab_size, pre)
        for name, data, qtype in tensors:
            writer.add_tensor(name, data, raw_dtype=qtype)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, out_file)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("wrote %s (%s, %.1f MB)", out_file, quant, out_file.stat().st_size / 1e6)
    return out_file


def _state(model_dir: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        raise ModelError(f"{model_dir}: no .safetensors weights to export.")
    state: dict[str, Any] = {}
    for f in files:
        state.update(load_file(f))
    return state


def _write_metadata(writer: Any, config: Any, quant: str, name: str) -> None:
    import gguf

    rope = getattr(config, "rope_parameters", None) or {}
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    writer.add_name(name)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(float(rope.get("rope_theta", getattr(config, "rope_theta", 1e4))))
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_vocab_size(config.vocab_size)
    writer.add_file_type(getattr(gguf.LlamaFileType, f"MOSTLY_{quant.upper()}", 0))
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)


def _write_tokenizer(writer: Any, tokenizer: Any, vocab_size: int, pre: str) -> None:
    tokens, types = token_table(tokenizer, vocab_size)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(bpe_merges(tokenizer))
    for role in ("bos", "eos", "unk", "pad"):
        token_id = getattr(tokenizer, f"{role}_token_id", None)
        if token_id is not None:
            getattr(writer, f"add_{role}_token_id")(token_id)
    writer.add_add_bos_token(False)  # the chat template writes every special token itself
    writer.add_chat_template(tokenizer.chat_template)
