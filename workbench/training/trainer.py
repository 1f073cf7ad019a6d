"""transformers' Trainer with what the workbench adds: atomic checkpoints, real-token counts, events.

- Checkpoints: Trainer 5.x writes `checkpoint-N` in place, so a crash mid-save leaves a half folder
  that its resume would pick. Here each checkpoint is written into a staging folder, marked
  complete, then renamed in one step; `newest_checkpoint` only returns marked ones.
- Tokens: batches carry `real_tokens` (non-padding count, exact for packed rows too); it is counted
  and removed before the forward pass.
- Events: `EventBridge` turns Trainer callbacks into the workbench's (see callbacks.py) and turns a
  stop request into "save a checkpoint, then stop".
- KL to base (`kl_to_base` > 0, kl.py): training steps add beta * KL(tuned || base) to the loss;
  evaluation keeps the task loss alone, so eval losses of runs with and without it compare. The
  KL per measured token is logged as `kl_to_base` beside the loss. With `kl_on="replay"` batches
  carry a `kl_mask` (the replay rows' tokens), taken out here before the forward.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

from transformers import Trainer, TrainerCallback

from .batching import LengthGroupedSampler
from .checkpoints import STAGING, complete_checkpoints, publish
from .events import Callback, TrainState
from .kl import loss_and_kl
from .loss import model_loss

log = logging.getLogger(__name__)


class WorkbenchTrainer(Trainer):
    """Trainer with atomic checkpoints, a seeded length-grouped sampler and real-token counting."""

    def __init__(
        self,
        *args: Any,
        group_by_length: bool = False,
        keep_checkpoints: int = 2,
        kl_to_base: float = 0.0,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.group_by_length = group_by_length
        self.keep_checkpoints = keep_checkpoints
        self.kl_to_base = kl_to_base
        self._kl_sum: Any = 0.0  # KL summed over labelled tokens since the last log (a tensor)
        self._kl_tokens: Any = 0
        self._staging: str | None = None
        self.run_state: TrainState | None = None  # set by the engine: a diverged save stops the run

    # -- data -------------------------------------------------------------------------------------
    def _get_train_sampler(self, train_dataset: Any = None) -> Any:
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        if self.group_by_length and hasattr(dataset, "lengths"):
            return LengthGroupedSampler(
                dataset.lengths(),  # grouped by the optimizer's batch: its micro-batches follow
                batch_size=self.args.train_batch_size * self.args.gradient_accumulation_steps,
                seed=self.args.seed,
            )
        return super()._get_train_sampler(train_dataset)

    def _track_num_input_tokens(self, inputs: dict[str, Any]) -> None:
        import torch

        real = torch.as_tensor(inputs["real_tokens"], device=self.args.device, dtype=torch.int64)
        self.state.num_input_tokens_seen += int(self.accelerator.gather(real).sum().item())

    def _prepare_inputs(self, inputs: dict[str, Any]) -> dict[str, Any]:
        inputs = {k: v for k, v in inputs.items() if k != "real_tokens"}
        return super()._prepare_inputs(inputs)

    # -- loss -------------------------------------------------------------------------------------
    def compute_loss(
        self,
        model: Any,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: Any = None,
    ) -> Any:
        """The head and loss only at labelled positions, in chunks (loss.py): same loss, no full logits.

        One process only: under DDP the forward must go through the wrapper for gradients to be
        reduced, so scale-out runs keep the model's own loss.
        """
        kl_mask = inputs.get("kl_mask")
        inputs = {k: v for k, v in inputs.items() if k != "kl_mask"}  # not a model argument
        if self.kl_to_base > 0 and model.training:
            return self._loss_with_kl(model, inputs, return_outputs, num_items_in_batch, kl_mask)
        loss = None
        if self.accelerator.num_processes == 1 and self.compute_loss_func is None:
            loss = model_loss(model, inputs, num_items=num_items_in_batch)
        if loss is None:
            return super().compute_loss(
                model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch
            )
        return (loss, {"loss": loss}) if return_outputs else loss

    def _loss_with_kl(
        self,
        model: Any,
        inputs: dict[str, Any],
        return_outputs: bool,
        num_items: Any,
        kl_mask: Any = None,
    ) -> Any:
        """Task loss + beta * KL(tuned || base) over the labelled tokens, the KL only where
        `kl_mask` says (kl.py)."""
        single = self.accelerator.num_processes == 1
        terms = loss_and_kl(model, inputs, num_items=num_items, chunked=single, kl_mask=kl_mask)
        # summed as tensors (no device sync per micro-batch): the log shows the interval's mean
        self._kl_sum = self._kl_sum + terms.kl_sum
        self._kl_tokens = self._kl_tokens + terms.tokens
        loss = terms.task + self.kl_to_base * terms.kl
        return (loss, {"loss": loss}) if return_outputs else loss

    def log(self, logs: dict[str, float], *args: Any, **kwargs: Any) -> None:
        if "loss" in logs and float(self._kl_tokens) > 0:  # train logs; one sync per interval
            logs["kl_to_base"] = round(float(self._kl_sum) / float(self._kl_tokens), 6)
            self._kl_sum, self._kl_tokens = 0.0, 0
        super().log(logs, *args, **kwargs)

    def floating_point_ops(self, inputs: dict[str, Any]) -> int:
        return 0  # the engine estimates FLOPs once from real tokens (see train.estimate_flops)

    # -- checkpoints ------------------------------------------------------------------------------
    def _get_output_dir(self, trial: Any) -> str:
        return self._staging or super()._get_output_dir(trial)

    def _save_checkpoint(self, model: Any, trial: Any) -> None:
        if not _finite(self.model):  # a save between two logs would keep NaN weights as the newest
            step = self.state.global_step
            message = (
                f"The weights became NaN or infinite by step {step}: no checkpoint of them was "
                "kept. Lower the learning rate, raise the warm-up, or check the data."
            )
            log.error(message)
            if self.run_state is not None:
                self.run_state.request_stop("diverged", message)
            self.control.should_training_stop = True
            return
        root = Path(self.args.output_dir)
        name = f"checkpoint-{self.state.global_step}"
        staging = root / f"{STAGING}{name}"  # same name on every process, same filesystem as root
        if self.is_world_process_zero():
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
        self.accelerator.wait_for_everyone()
        self._staging = str(staging)
        try:
            super()._save_checkpoint(model, trial)
        finally:
            self._staging = None
        self.accelerator.wait_for_everyone()
        if self.is_world_process_zero():
            publish(staging / name, root / name)
            shutil.rmtree(staging, ignore_errors=True)
            self._rotate()
        self.accelerator.wait_for_everyone()

    def _rotate(self) -> None:
        for old in complete_checkpoints(self.args.output_dir)[: -self.keep_checkpoints]:
            shutil.rmtree(old, ignore_errors=True)


def _finite(model: Any) -> bool:
    """Every trained tensor is finite (frozen ones cannot change): one reduction per tensor."""
    import torch

    return all(bool(torch.isfinite(p).all()) for p in model.parameters() if p.requires_grad)


def param_counts(model: Any) -> tuple[int, int]:
    """(trained, all) parameters; peft counts 4-bit weights correctly."""
    if hasattr(model, "get_nb_trainable_parameters"):
        trainable, total = model.get_nb_trainable_parameters()
        return int(trainable), int(total)
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


class EventBridge(TrainerCallback):
    """Forwards Trainer events to workbench callbacks; a stop request ends the run after a save."""

    eval_keys: tuple[str, ...] = ("eval_loss",)  # what an evaluation passes on to the history

    def __init__(self, state: TrainState, callbacks: list[Callback]):
        self.wb, self.callbacks = state, callbacks

    def _sync(self, hf_state: Any) -> None:
        self.wb.step = hf_state.global_step
        self.wb.epoch = float(hf_state.epoch or 0.0)
        self.wb.max_steps = hf_state.max_steps
        self.wb.tokens_seen = hf_state.num_input_tokens_seen

    def _emit(self, event: str, *args: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, event)(self.wb, *args)

    def _obey(self, control: Any) -> Any:
        if self.wb.stop_requested:
            control.should_training_stop = True
            # never checkpoint weights that went NaN; otherwise save so nothing is lost
            control.should_save = self.wb.stop_status != "diverged"
        return control

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        self._sync(state)
        self.wb.model = kwargs.get("model")
        self.wb.started_at = time.monotonic()  # rates count training (and its evals), not loading
        self._emit("on_train_begin")
        return control

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        self._sync(state)
        self._emit("on_step_end")
        return self._obey(control)

    def on_log(
        self,
        args: Any,
        state: Any,
        control: Any,
        logs: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> Any:
        logs = logs or {}
        if (
            "loss" in logs
        ):  # train logs only; eval results arrive via on_evaluate, the summary is skipped
            self._sync(state)
            keep = ("loss", "grad_norm", "learning_rate", "kl_to_base")
            self._emit("on_log", {k: float(logs[k]) for k in keep if k in logs})
        return self._obey(control)

    def on_evaluate(
        self,
        args: Any,
        state: Any,
        control: Any,
        metrics: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> Any:
        self._sync(state)
        metrics = {k: float(v) for k, v in (metrics or {}).items() if k in self.eval_keys}
        self._emit("on_evaluate", metrics)
        return self._obey(control)

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        self._emit("on_save", str(Path(args.output_dir) / f"checkpoint-{state.global_step}"))
        return control
