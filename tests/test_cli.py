"""The `workbench` command's run / report subcommands and a --help that teaches."""

from __future__ import annotations

import pytest

from workbench.cli import build_parser, main


def test_help_teaches_the_workflow_exit_codes_and_secrets(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for needle in (
        "workbench run examples/demo.yaml --profile quick",
        "workbench report RUN_DIR",
        "Exit codes",
        "gates:",
        "profiles:",
        "HF_TOKEN",
        "environment",
    ):
        assert needle in text, needle


def test_run_and_report_are_subcommands():
    parser = build_parser()
    args = parser.parse_args(
        ["run", "p.yaml", "--profile", "quick", "--run-dir", "r", "--notebooks", "01,02"]
    )
    assert (args.params, args.profile, args.run_dir, args.notebooks) == (
        "p.yaml",
        "quick",
        "r",
        "01,02",
    )
    args = parser.parse_args(["report", "runs/x", "--bias-probe"])
    assert args.run_dir == "runs/x" and args.bias_probe


def test_run_with_a_missing_parameters_file_is_a_usage_error(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.yaml"), "--run-dir", str(tmp_path / "r")]) == 2
    assert "parameters file not found" in capsys.readouterr().err


def test_run_with_an_unknown_profile_names_the_known_ones(tmp_path, capsys):
    params = tmp_path / "p.yaml"
    params.write_text("model: tiny-random\nprofiles:\n  nightly: {max_steps: 100}\n")
    assert main(["run", str(params), "--profile", "fast", "--run-dir", str(tmp_path / "r")]) == 2
    assert "Known: full, nightly, quick" in capsys.readouterr().err


def test_report_writes_documents_and_notes_the_gaps(tmp_path, capsys):
    provider = tmp_path / "facts.yaml"
    provider.write_text("intended_purpose: Classify support tickets\n")
    inspect = ["inspect", "orders-json", "--model", "none", "--out", str(tmp_path / "inspect")]
    assert main(inspect) == 0  # step 01 ran; a folder with no step at all is refused
    assert main(["report", str(tmp_path), "--provider", str(provider)]) == 0
    out, err = capsys.readouterr()
    assert str(tmp_path / "docs" / "ai_act_record.html") in out
    assert "note: not available: step 03" in err
    assert "Classify support tickets" in (tmp_path / "docs" / "ai_act_record.md").read_text()


def test_progress_lines_after_a_resume_count_only_this_process():
    """Resumed at step 50 with 50,000 tokens behind it: tok/s and ETA come from this process's steps."""
    import re
    import time

    from workbench.training.events import ProgressLines, TrainState

    lines: list[str] = []
    progress = ProgressLines(lines.append)
    state = TrainState(max_steps=100, step=50, tokens_seen=50_000)  # what a resume restores
    progress.on_train_begin(state)
    time.sleep(0.2)
    state.step, state.tokens_seen = 51, 50_100
    progress.on_log(state, {"loss": 1.0})
    rate = int(re.search(r"(\d+) tok/s", lines[-1])[1])
    eta = int(re.search(r"eta (\d+) s", lines[-1])[1])
    assert 100 <= rate <= 500, lines[-1]  # 100 tokens in 0.2 s or a bit more, not 50,100 of them
    assert 5 <= eta <= 30, lines[-1]  # 49 steps left at ~0.2 s per step


HOSTILE = {
    "intended_purpose": "<script>alert(1)</script> see [docs](javascript:alert(1)) "
    "![t](http://track.example/p.png) <http://x.example>",
    "provider_name": "# Evil Corp",
    "collection_purpose": "support mail\n# Injected heading\n- injected item",
    "contact": "a|b *not emphasis* __init__ 1 < 2 & 3 > 2",
}


def test_provider_text_reads_as_typed_in_the_markdown(tmp_path, capsys):
    """Provider-stated text is data: no HTML, links, images, headings or list items of its own."""
    import yaml

    provider = tmp_path / "facts.yaml"
    provider.write_text(yaml.safe_dump(HOSTILE))
    assert (
        main(["inspect", "orders-json", "--model", "none", "--out", str(tmp_path / "inspect")]) == 0
    )
    assert main(["report", str(tmp_path), "--provider", str(provider)]) == 0
    md = (tmp_path / "docs" / "ai_act_record.md").read_text()
    assert "<script>" not in md and "&lt;script&gt;alert(1)&lt;/script&gt;" in md
    assert "\\[docs\\](javascript:alert(1))" in md and "!\\[t\\]" in md
    assert "\n# Injected" not in md and "\n- injected" not in md
    assert "a\\|b \\*not emphasis\\* \\_\\_init\\_\\_ 1 &lt; 2 &amp; 3 &gt; 2" in md
    markdown_it = pytest.importorskip("markdown_it")
    page = markdown_it.MarkdownIt("commonmark").enable("table").render(md)
    for active in ("<script", "<a ", "<img", "<h1>Evil", "<h1>Injected", "<li>injected", "<em>not"):
        assert active not in page, active
    assert "&lt;script&gt;alert(1)&lt;/script&gt; see [docs](javascript:alert(1))" in page
    assert "support mail # Injected heading - injected item" in page
    assert "a|b *not emphasis* __init__ 1 &lt; 2 &amp; 3 &gt; 2" in page
