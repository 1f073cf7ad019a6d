"""QLoRA: LoRA adapters on a 4-bit NF4 base with double quantisation (bitsandbytes + peft).

Dettmers et al. 2023, "QLoRA: Efficient Finetuning of Quantized LLMs" (arXiv:2305.14314): the
paper fine-tuned a 65B model on one 48 GB GPU. bitsandbytes >= 0.46 also runs it on x86 CPUs
(AVX2), slowly: there it is a correctness demo, not a speed-up.
"""

from __future__ import annotations

from typing import Any

from ..errors import TechniqueUnavailable
from .base import MemoryProfile
from .lora import LoRA, lora_config
from .registry import register

# NF4 stores 4 bits per weight; one fp32 absmax per 64-weight block costs 0.5 bit, double
# quantisation stores those as 8-bit with one fp32 per 256 blocks: 8/64 + 32/(64*256) = 0.127 bit.
NF4_BITS_PER_PARAM = 4 + 8 / 64 + 32 / (64 * 256)


@register
class QLoRA(LoRA):
    name = "qlora"
    title = "QLoRA (4-bit)"
    summary = (
        "LoRA on a base model quantised to 4-bit NF4: the base takes about a quarter of its 16-bit "
        "size, so bigger models fit on one GPU. Slower per step than LoRA."
    )
    memory = MemoryProfile(weight_bits=NF4_BITS_PER_PARAM, adapter=True)
    requires = (("bitsandbytes", "bitsandbytes", "0.46.1"),)
    devices = ("cpu", "cuda")
    teaching_order = 4
    # Every 4-bit weight is dequantised in forward and backward (the paper's slower-than-LoRA steps).
    step_time_factor = 1.4

    def estimate_notes(self, hardware: Any, arch: Any) -> list[str]:
        if hardware.kind == "cpu":
            return ["QLoRA on a CPU saves memory but is slower than LoRA: a correctness demo."]
        return []

    def load_kwargs(self, *, dtype: Any, device: str) -> dict[str, Any]:
        import torch
        from transformers import BitsAndBytesConfig

        # Compute in the training dtype: fp32 on CPU (no fast 16-bit there), bf16/fp16 on GPU.
        compute = torch.float32 if device.startswith("cpu") else dtype
        return {
            "quantization_config": BitsAndBytesConfig(
                load_in_4bit=True,
                bnb_4bit_quant_type="nf4",  # the default is fp4: QLoRA needs nf4
                bnb_4bit_use_double_quant=True,
                bnb_4bit_compute_dtype=compute,
            )
        }

    def prepare(self, model: Any, cfg: Any) -> Any:
        from peft import get_peft_model, prepare_model_for_kbit_training

        if not getattr(model, "is_loaded_in_4bit", False):
            raise TechniqueUnavailable(
                "QLoRA needs a model loaded in 4-bit: load it with "
                "`load_model(name, technique='qlora')` so the quantisation config is applied."
            )
        if str(model.device).startswith("cpu"):
            _release_checkpoint_mapping(model)
        # Freezes the base, casts norms / embeddings / head to fp32, optionally turns on checkpointing.
        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=cfg.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
        return get_peft_model(model, lora_config(cfg))


def _release_checkpoint_mapping(model: Any) -> None:
    """Give the unquantised tensors (embeddings, norms, buffers) memory of their own on CPU.

    On CPU they are views into the memory-mapped safetensors file, which keeps the whole mapping
    alive; quantising read every page of it, so the process holds the full-precision checkpoint
    resident for nothing (SmolLM2-135M: 0.41 GB of RSS). Copying the few small tensors lets the
    mapping go. Tied weights stay tied: the shared Parameter object is updated in place.
    """
    import gc

    import torch
    from bitsandbytes.nn import Params4bit

    seen: set[int] = set()
    with torch.no_grad():
        for module in model.modules():
            for param in module.parameters(recurse=False):
                if id(param) not in seen and not isinstance(param, Params4bit):
                    seen.add(id(param))
                    param.data = param.data.clone()
            for name, buf in module.named_buffers(recurse=False):
                module._buffers[name] = buf.clone()
    gc.collect()
