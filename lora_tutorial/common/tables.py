"""Tables as Markdown (for a terminal, a handout or ``IPython.display.Markdown``) or HTML.

One helper for every table the package prints: parameter counts, a class's quiz summary, a
learner's progress. Cells may be any value (``str()`` is applied) and may hold ``|``, which
is escaped so that it stays text instead of starting a new column.
"""

from __future__ import annotations

import html
from collections.abc import Sequence


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]],
                   align: str | None = None) -> str:
    """A Markdown table; ``align`` has one letter per column, ``l`` or ``r`` (default: none).

    >>> print(markdown_table(["r", "params"], [(4, 384), (8, 768)], align="rr"))
    | r | params |
    |---:|---:|
    | 4 | 384 |
    | 8 | 768 |
    """
    if align is not None and (len(align) != len(headers) or set(align) - {"l", "r"}):
        raise ValueError(f"align needs one letter, 'l' or 'r', per column of {list(headers)}; "
                         f"got {align!r}")
    rule = "".join("---:|" if a == "r" else "---|" for a in (align or "l" * len(headers)))
    lines = [_markdown_row(headers), "|" + rule]
    lines += [_markdown_row(row) for row in rows]
    return "\n".join(lines)


def html_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """The same table as HTML for Jupyter, every cell escaped (cells are text, not markup)."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _markdown_row(cells: Sequence[object]) -> str:
    return "| " + " | ".join(str(cell).replace("|", "\\|") for cell in cells) + " |"
