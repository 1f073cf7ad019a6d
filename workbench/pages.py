"""Standalone HTML pages: one jinja2 template for every page the workbench writes to a run.

Each stage builds its own fragment (already escaped where it holds user text); this module puts
it into a page with a title, the page's CSS and a viewport, and escapes the title itself. jinja2
is imported on first use, so `import workbench` stays light.
"""

from __future__ import annotations

from functools import cache
from typing import Any


def standalone_page(
    title: str, body_html: str, *, css: str = "", heading: bool = False, lang: str = "en"
) -> str:
    """A complete page around `body_html` (trusted markup); `heading` repeats the title as <h2>."""
    return _template().render(title=title, body=body_html, css=css, heading=heading, lang=lang)


@cache
def _template() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("workbench", "templates"),
        autoescape=True,  # the title and anything not marked safe
        keep_trailing_newline=True,
    )
    return env.get_template("page.html.j2")


__all__ = ["standalone_page"]
