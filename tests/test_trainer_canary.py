"""Canary: what the workbench's Trainer subclass overrides or calls still exists in transformers.

The names come from the subclass's own source, not from a list kept by hand: a method it defines
that Trainer also has is an override (its parameters must still fit); a method Trainer lacks must
be a helper the subclass calls on itself, else it is a hook transformers stopped calling; every
`super().name(...)` and `self.name(...)` it calls on a Trainer method must bind to that method's
signature. A transformers release that renames or drops one fails here, not in a training run.
"""

from __future__ import annotations

import ast
import inspect
import textwrap

import pytest
from transformers import Trainer, TrainerCallback

from workbench.training.trainer import EventBridge, WorkbenchTrainer


def _methods(cls: type) -> dict[str, ast.FunctionDef]:
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body
    return {node.name: node for node in body if isinstance(node, ast.FunctionDef)}


def _calls(node: ast.AST) -> list[tuple[str, str, ast.Call]]:
    """(receiver, name, call) for every `self.name(...)` and `super().name(...)` under node."""
    found = []
    for call in ast.walk(node):
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
            continue
        target = call.func.value
        if isinstance(target, ast.Name) and target.id == "self":
            found.append(("self", call.func.attr, call))
        elif isinstance(target, ast.Call) and getattr(target.func, "id", None) == "super":
            found.append(("super()", call.func.attr, call))
    return found


def _accepts(override: inspect.Signature, base: inspect.Signature) -> list[str]:
    """What of `base`'s parameters `override` cannot take, and what it requires that base lacks."""
    kinds = {p.kind for p in override.parameters.values()}
    problems = []
    for name, param in base.parameters.items():
        if name in override.parameters or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        positional = param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD)
        if positional and param.VAR_POSITIONAL in kinds and param.VAR_KEYWORD in kinds:
            continue
        if param.kind == param.KEYWORD_ONLY and param.VAR_KEYWORD in kinds:
            continue
        problems.append(f"does not take {name!r}")
    for name, param in override.parameters.items():
        required = param.default is param.empty and param.kind not in (
            param.VAR_POSITIONAL,
            param.VAR_KEYWORD,
        )
        if required and name not in base.parameters:
            problems.append(f"requires {name!r}, which the base never passes")
    return problems


def _binds(call: ast.Call, signature: inspect.Signature) -> str | None:
    """None when the call's arguments fit the signature (splats are taken to fit)."""
    if any(isinstance(a, ast.Starred) for a in call.args) or any(
        k.arg is None for k in call.keywords
    ):
        return None
    try:
        signature.bind(object(), *call.args, **{k.arg: k.value for k in call.keywords})
    except TypeError as exc:
        return str(exc)
    return None


def contract_problems(cls: type, base: type) -> list[str]:
    """Everything `cls` relies on in `base` that `base` no longer has or no longer fits."""
    methods = _methods(cls)
    called_on_self = {name for node in methods.values() for _, name, _ in _calls(node)}
    problems = []
    for name in methods:
        theirs = getattr(base, name, None)
        if theirs is None:
            if name not in called_on_self:
                problems.append(
                    f"{cls.__name__}.{name} overrides nothing: {base.__name__} has no {name}"
                )
            continue
        if name.startswith("__"):
            continue  # a constructor is ours to shape; its super().__init__ call is checked below
        for why in _accepts(inspect.signature(getattr(cls, name)), inspect.signature(theirs)):
            problems.append(
                f"{cls.__name__}.{name} {why} ({base.__name__}.{name}{inspect.signature(theirs)})"
            )
    for node in methods.values():
        for receiver, name, call in _calls(node):
            if receiver == "self" and name in methods:
                continue  # the subclass's own method, checked above
            theirs = getattr(base, name, None)
            if theirs is None:
                if receiver == "super()" or name.startswith("_"):
                    problems.append(
                        f"{cls.__name__} calls {receiver}.{name}, gone from {base.__name__}"
                    )
                continue  # a public attribute set on the instance (self.accelerator, ...)
            if callable(theirs) and (why := _binds(call, inspect.signature(theirs))):
                problems.append(f"{cls.__name__} calls {receiver}.{name}(...): {why}")
    return problems


def test_the_trainer_subclass_fits_this_transformers():
    assert contract_problems(WorkbenchTrainer, Trainer) == []
    overrides = set(_methods(WorkbenchTrainer)) & set(dir(Trainer))
    assert {"_save_checkpoint", "_get_train_sampler", "_prepare_inputs"} <= overrides


def test_the_event_bridge_fits_this_transformers():
    assert contract_problems(EventBridge, TrainerCallback) == []


class _GoneHook(Trainer):
    def _save_checkpoint_v2(self, model, trial):  # a hook Trainer does not (or no longer) call
        return None


class _RenamedParameter(Trainer):
    def _get_output_dir(self, run):  # Trainer passes `trial`
        return super()._get_output_dir(run)


class _CallsGoneMethods(Trainer):
    def _prepare_inputs(self, inputs):
        self._prepare_inputs_v2(inputs)
        return super()._prepare_inputs(inputs, "one too many")


class _HelperOnly(Trainer):
    def _save_checkpoint(self, model, trial):
        self._tidy()
        return super()._save_checkpoint(model, trial)

    def _tidy(self):  # not on Trainer, but called by the subclass itself: a helper, fine
        return None


@pytest.mark.parametrize(
    "cls,expected",
    [
        (_GoneHook, ["_save_checkpoint_v2 overrides nothing"]),
        (_RenamedParameter, ["does not take 'trial'", "requires 'run'"]),
        (
            _CallsGoneMethods,
            ["calls self._prepare_inputs_v2, gone", "super()._prepare_inputs(...): too many"],
        ),
        (_HelperOnly, []),
    ],
)
def test_the_canary_catches_what_a_future_transformers_would_break(cls, expected):
    problems = contract_problems(cls, Trainer)
    assert len(problems) == len(expected), problems
    for problem, text in zip(problems, expected, strict=True):
        assert text in problem
