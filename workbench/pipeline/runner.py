"""Headless runs: execute notebooks 01-05 in order with papermill, then write summary.json and check gates.

One parameters file drives every notebook (format: see examples/demo.yaml). Each notebook gets the
merged parameters (shared keys < profile overrides < its own section) plus `run_dir` and
`interactive=False`, and reads what the previous one wrote into the run directory.
"""

from __future__ import annotations

import html
import importlib
import logging
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import ArtifactError, ConfigError, WorkbenchError
from ..rundir import RunDir
from ..secret_guard import check_no_secret_parameters, scrub_tree
from ..training.claim import claim
from .gates import GateResult, check_gates, validate_gates
from .summary import RunSummary, StepResult

log = logging.getLogger(__name__)

NOTEBOOKS = (
    "01_inspect_data",
    "02_choose_technique",
    "03_train",
    "04_compare",
    "05_document",
)  # the default series
NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
SECTIONS = ("profiles", "notebooks", "gates", "provider")

# Built-in profiles; a parameters file's `profiles:` section overrides these keys.
PROFILES: dict[str, dict[str, Any]] = {
    "quick": {"max_train_rows": 64, "max_eval_rows": 8, "max_steps": 10, "eval_every": 0},
    "full": {},
}

# Quiet kernels: one log line per notebook instead of thousands of progress-bar lines.
QUIET_ENV = {
    "TQDM_DISABLE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TOKENIZERS_PARALLELISM": "false",
}


# -- parameters ----------------------------------------------------------------------------------


@dataclass
class PipelineParams:
    """A parsed parameters file: shared keys, profiles, per-notebook sections, gates, provider facts."""

    shared: dict[str, Any] = field(default_factory=dict)
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    notebooks: dict[str, dict[str, Any]] = field(default_factory=dict)
    gates: dict[str, float] = field(default_factory=dict)
    provider: dict[str, Any] = field(default_factory=dict)
    source: str = "<dict>"

    @classmethod
    def load(cls, source: str | Path | Mapping[str, Any]) -> PipelineParams:
        """Read a YAML file (or take a dict) and check it."""
        if isinstance(source, PipelineParams):
            return source
        where = "<dict>"
        if isinstance(source, (str, Path)):
            where = str(source)
            path = Path(source)
            if not path.is_file():
                raise ConfigError(
                    f"{path}: parameters file not found. See examples/demo.yaml for the format."
                )
            try:
                source = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except yaml.YAMLError as exc:
                raise ConfigError(f"{path}: not valid YAML ({exc}).") from exc
        if not isinstance(source, Mapping):
            raise ConfigError(
                f"{where}: expected a mapping of name: value, got {type(source).__name__}."
            )
        check_no_secret_parameters(source, where=where)
        data = dict(source)
        params = cls(
            shared={k: v for k, v in data.items() if k not in SECTIONS},
            profiles=_mapping_of_mappings(data.get("profiles"), f"{where}: profiles"),
            notebooks={
                notebook_name(k): v
                for k, v in _mapping_of_mappings(
                    data.get("notebooks"), f"{where}: notebooks"
                ).items()
            },
            gates=validate_gates(data.get("gates"), where=f"{where}: gates"),
            provider=dict(data.get("provider") or {}),
            source=where,
        )
        return params

    def profile_names(self) -> list[str]:
        return sorted(set(PROFILES) | set(self.profiles))

    def resolved(self, *, profile: str | None = None) -> dict[str, Any]:
        """Shared keys with the profile's overrides applied."""
        merged = dict(self.shared)
        if profile:
            if profile not in PROFILES and profile not in self.profiles:
                raise ConfigError(
                    f"{self.source}: unknown profile {profile!r}. Known: {', '.join(self.profile_names())}."
                )
            merged.update(PROFILES.get(profile, {}))
            merged.update(self.profiles.get(profile, {}))
        return merged

    def for_notebook(
        self, notebook: str, *, profile: str | None, run_dir: str | Path
    ) -> dict[str, Any]:
        """What papermill injects into `notebook`: resolved keys, its own section, run_dir, interactive."""
        merged = self.resolved(profile=profile)
        merged.update(self.notebooks.get(notebook_name(notebook), {}))
        merged.update(run_dir=str(run_dir), interactive=False)
        return merged

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _mapping_of_mappings(value: Any, where: str) -> dict[str, dict[str, Any]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(v, Mapping) for v in value.values()):
        raise ConfigError(f"{where}: expected a mapping of name: {{key: value}}, got {value!r}.")
    return {str(k): dict(v) for k, v in value.items()}


def notebook_name(name: str) -> str:
    """'03', '03_train' or '03_train.ipynb' -> '03_train'."""
    stem = Path(str(name)).stem
    matches = [n for n in NOTEBOOKS if n == stem or n.split("_", 1)[0] == stem]
    return matches[0] if len(matches) == 1 else stem


# -- results -------------------------------------------------------------------------------------


@dataclass
class PipelineResult:
    run_dir: Path
    profile: str | None
    steps: list[StepResult]
    gates: list[GateResult]
    seconds: float

    @property
    def failed_step(self) -> StepResult | None:
        return next((s for s in self.steps if s.status == "failed"), None)

    @property
    def failed_gates(self) -> list[GateResult]:
        return [g for g in self.gates if g.failed]

    @property
    def ok(self) -> bool:
        return self.failed_step is None and not self.failed_gates

    def reasons(self) -> list[str]:
        """One line per problem, for a CI log."""
        lines = [
            f"notebook {s.notebook} failed: {s.error}" for s in self.steps if s.status == "failed"
        ]
        return lines + [g.reason for g in self.failed_gates]

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_dir": str(self.run_dir),
            "profile": self.profile,
            "ok": self.ok,
            "seconds": round(self.seconds, 2),
            "steps": [s.to_dict() for s in self.steps],
            "gates": [g.to_dict() for g in self.gates],
        }

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{s.notebook}</td><td>{s.status}</td><td>{s.seconds:.1f} s</td>"
            f"<td>{html.escape(s.error or '')}</td></tr>"
            for s in self.steps
        )
        gates = "".join(g._repr_html_() for g in self.gates)
        head = "passed" if self.ok else "FAILED"
        return (
            f"<div><b>Pipeline {head}</b> in {self.seconds:.0f} s, run dir <code>{html.escape(str(self.run_dir))}</code>"
            f"<table><tr><th>notebook</th><th>status</th><th>time</th><th>error</th></tr>{rows}</table>{gates}</div>"
        )


# -- running -------------------------------------------------------------------------------------


def run_pipeline(
    params: str | Path | Mapping[str, Any] | PipelineParams,
    *,
    run_dir: str | Path,
    notebooks: Sequence[str] = NOTEBOOKS,
    profile: str | None = "full",
    notebooks_dir: str | Path | None = None,
    kernel_name: str = "python3",
    cell_timeout: int | None = None,
) -> PipelineResult:
    """Execute `notebooks` in order into run_dir/notebooks/, stop at the first failure, check gates.

    Always writes run_dir/summary.json (also after a failure). Returns a PipelineResult; `ok` is
    False when a notebook failed or a gate failed, and `reasons()` says why in one line each.
    """
    params = PipelineParams.load(params)
    params.resolved(profile=profile)  # fail fast on an unknown profile
    source_dir = Path(notebooks_dir) if notebooks_dir else NOTEBOOKS_DIR
    names = [notebook_name(n) for n in notebooks]
    paths = [_notebook_path(source_dir, n) for n in names]
    every = sorted(
        {*paths, *source_dir.glob("[0-9][0-9]_*.ipynb")}
    )  # a key for a notebook not run now is no typo
    unused = unused_parameters(
        params, every, profile=profile
    )  # an unknown key fails before any work
    run = claim(RunDir(run_dir))  # never write into a folder the workbench did not make
    started = time.perf_counter()
    steps = [StepResult(n, "not run") for n in names]
    summary = RunSummary.begin(params, profile)
    summary.unused_parameters = unused
    for i, (name, path) in enumerate(zip(names, paths, strict=True)):
        log.info("[%d/%d] %s ...", i + 1, len(names), name)
        if step_for(name).quotes_gates:
            summary.write(
                run,
                steps,
                gates=check_gates(params.gates, run_dir=run.root),
                seconds=time.perf_counter() - started,
            )
        steps[i] = _execute(
            path,
            run,
            params.for_notebook(name, profile=profile, run_dir=run.root),
            kernel_name=kernel_name,
            cwd=source_dir.parent,
            cell_timeout=cell_timeout,
        )
        if steps[i].status == "ok":
            steps[i] = _check_outcome(steps[i], run)
        log.info(
            "[%d/%d] %s %s in %.1f s", i + 1, len(names), name, steps[i].status, steps[i].seconds
        )
        summary.write(run, steps, gates=[], seconds=time.perf_counter() - started)
        if steps[i].status == "failed":
            log.info("stopped: %s", steps[i].error)
            break
    gates = check_gates(params.gates, run_dir=run.root) if steps[-1].status == "ok" else []
    for gate in gates:  # failures are returned in the result (the CLI prints them once)
        log.info("%s", gate.reason)
    seconds = time.perf_counter() - started
    summary.write(run, steps, gates=gates, seconds=seconds)
    scrub_tree(run.root)
    _log_to_tracker(run.root)
    return PipelineResult(run.root, profile, steps, gates, seconds)


def _log_to_tracker(run_dir: Path) -> None:
    """Add the comparison metrics and the documents to the run's tracker run (when training tracked)."""
    from ..training.tracking import log_run_files

    try:
        log_run_files(run_dir)
    except Exception as exc:  # the tracker is a copy: never fail a pipeline over it
        log.warning("Could not log %s to its tracker: %s", run_dir, exc)


def _notebook_path(folder: Path, name: str) -> Path:
    path = folder / f"{name}.ipynb"
    if not path.is_file():
        have = ", ".join(sorted(p.stem for p in folder.glob("*.ipynb"))) or "none"
        raise WorkbenchError(f"{path}: notebook not found (notebooks in {folder}: {have}).")
    return path


def unused_parameters(
    params: PipelineParams, paths: list[Path], *, profile: str | None
) -> list[str]:
    """Shared keys that are neither TrainConfig fields nor in any notebook's parameters cell (a typo?)."""
    from dataclasses import fields

    import papermill as pm

    from ..config import TrainConfig, unknown_keys_message

    declared = {f.name for f in fields(TrainConfig)}  # notebooks 02/03 read these from globals()
    with _quiet_papermill():
        for path in paths:
            declared |= set(pm.inspect_notebook(str(path)))
    unused = sorted(set(params.resolved(profile=profile)) - declared)
    if unused:
        what = f"parameter in {params.source} (no notebook and no TrainConfig field uses it)"
        raise ConfigError(unknown_keys_message(unused, declared, what=what))
    return unused


@dataclass(frozen=True)
class Step:
    """A notebook of the series and what the runner does around it (no name checks elsewhere)."""

    name: str
    result: str | None = None  # "module:Type" of the typed result it leaves in the run dir
    quotes_gates: bool = False  # the gate results so far go into summary.json before it runs

    def result_type(self) -> Any:
        if self.result is None:
            return None
        module, name = self.result.split(":")
        return getattr(importlib.import_module(module, __package__), name)


STEPS = {
    step.name: step
    for step in (
        Step("01_inspect_data", "..inspection.report:DatasetReport"),
        Step("02_choose_technique", "..estimation.choice:TechniqueChoice"),
        Step("03_train", "..training.result:TrainResult"),
        Step("04_compare", "..comparison.comparison:Comparison"),
        Step("05_document", quotes_gates=True),  # the documents quote the gates measured so far
    )
}


def step_for(name: str) -> Step:
    return STEPS.get(name, Step(name))  # a user's own notebook: run it, check nothing more


def _check_outcome(step: StepResult, run: RunDir) -> StepResult:
    """A notebook can finish while its work did not: its result must read back as its type (a
    corrupt or drifted file fails the step here, not a later one), and a result that says its
    work failed (`failure_reason`, e.g. training that diverged) stops the run."""
    owner = step_for(step.notebook).result_type()
    try:
        result = owner.load_optional(run.root) if owner else None
    except ArtifactError as exc:
        step.status, step.error = "failed", f"its result does not read back: {exc}"
        return step
    reason = getattr(result, "failure_reason", None)
    if reason is not None and (why := reason()) is not None:
        step.status, step.error = "failed", why
    return step


@contextmanager
def _quiet_papermill() -> Iterator[None]:
    """Every notebook gets the whole parameter set by design: papermill's per-key warnings are noise."""
    logger = logging.getLogger("papermill")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextmanager
def _quiet_kernel_env() -> Iterator[None]:
    """Kernels inherit this process's environment: silence progress bars for the duration."""
    env = {
        **QUIET_ENV,
        "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1"),
    }  # offline unless told
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        with _quiet_papermill():
            yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _execute(
    path: Path,
    run: RunDir,
    parameters: dict[str, Any],
    *,
    kernel_name: str,
    cwd: Path,
    cell_timeout: int | None,
) -> StepResult:
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    out = run.executed_notebook(path.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        with _quiet_kernel_env():
            pm.execute_notebook(
                str(path),
                str(out),
                parameters=parameters,
                kernel_name=kernel_name,
                cwd=str(cwd),
                progress_bar=False,
                log_output=False,
                execution_timeout=cell_timeout,
                extra_arguments=["--IPKernelApp.log_level=ERROR"],  # no start-up chatter in the log
            )
    except PapermillExecutionError as exc:
        return StepResult(path.stem, "failed", time.perf_counter() - t0, str(out), _describe(exc))
    except Exception as exc:  # noqa: BLE001 - a dead kernel or a cell timeout is a failed step, not a crash
        return StepResult(
            path.stem, "failed", time.perf_counter() - t0, str(out), _describe_crash(exc)
        )
    finally:
        scrub_tree(out.parent)
    return StepResult(path.stem, "ok", time.perf_counter() - t0, str(out))


def _describe_crash(exc: Exception) -> str:
    name = type(exc).__name__
    if name == "DeadKernelError":
        return (
            "the kernel died (most often: out of memory; see `dmesg`). Lower batch_size or "
            "max_length, or close other notebooks, and run again."
        )
    if "Timeout" in name:
        return f"a cell ran longer than the cell timeout ({name}: {exc})."
    return f"{name}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"


def _describe(exc: Any) -> str:
    first = next((ln.strip() for ln in (exc.source or "").splitlines() if ln.strip()), "")
    first = first if len(first) <= 80 else first[:77] + "..."
    return (
        f"cell {exc.cell_index} (execution count {exc.exec_count}) `{first}` raised "
        f"{exc.ename}: {str(exc.evalue).strip().splitlines()[0] if exc.evalue else ''}"
    )


__all__ = [
    "run_pipeline",
    "PipelineParams",
    "PipelineResult",
    "StepResult",
    "NOTEBOOKS",
    "PROFILES",
]
