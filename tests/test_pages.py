"""Every standalone page comes from one template: the title escaped, the stage's fragment kept."""

from __future__ import annotations

from workbench.pages import standalone_page


def test_the_title_is_escaped_and_the_fragment_is_kept():
    page = standalone_page(
        "<script>alert(1)</script> & co", "<p class='x'>&lt;b&gt;</p>", css="p{}"
    )
    assert page.startswith("<!doctype html>")
    assert "<title>&lt;script&gt;alert(1)&lt;/script&gt; &amp; co</title>" in page
    assert "<p class='x'>&lt;b&gt;</p>" in page  # already escaped by the stage: not twice
    assert "<style>p{}</style>" in page and '<meta charset="utf-8">' in page
    assert "<h2>" not in page
    assert "<h2>&lt;script&gt;" in standalone_page("<script>", "", heading=True)


def test_the_stage_pages_use_it(tmp_path):
    from workbench.documents.render import Document, Heading, Para, to_html
    from workbench.plots import write_figures_html

    doc = Document(title="Card <1>", blocks=[Heading("Hi", 1), Para("text")])
    page = to_html(doc)
    assert page.startswith("<!doctype html>") and "<title>Card &lt;1&gt;</title>" in page
    out = write_figures_html({}, tmp_path / "f.html", title="Figures & more")
    assert "<h2>Figures &amp; more</h2>" in out.read_text()
