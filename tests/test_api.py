"""The public API: every exported name resolves, and functions are not shadowed by submodules."""

import importlib
import types

import workbench


def test_every_export_resolves():
    for name in workbench.__all__:
        assert getattr(workbench, name) is not None, name


def test_functions_win_over_same_named_submodules():
    for name in ("estimate", "train", "compare"):
        module = importlib.import_module(f"workbench.{name}")
        assert isinstance(module, types.ModuleType)
        value = getattr(workbench, name)
        assert callable(value) and not isinstance(value, types.ModuleType), name
        assert value is getattr(module, name)
