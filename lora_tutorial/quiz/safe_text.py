"""Text made safe for where it goes: a terminal, a Markdown handout, an XML file.

Quiz text comes from the bank (written by authors, checked by ``validate``) and from files
that learners hand in (a name, the number they typed, a quiz's name), which may hold
anything. Three places would take such text as an instruction instead of showing it:

* a **terminal** obeys control characters: ``ESC [ 2 J`` clears the instructor's screen,
  and other escape sequences can rewrite what was printed before. :func:`printable` shows
  every control character as its escape (``\\x1b``), so it is seen, not obeyed;
* a **Markdown viewer** follows links: ``[notes](javascript:...)`` runs code when clicked.
  :func:`neutralise_links` turns every link that is not ``http``, ``https`` or ``mailto``
  into a link to a fragment of the same page (``#javascript:...``), which runs nothing;
* an **XML** file cannot hold most control characters at all (XML 1.0 forbids them, and a
  platform refuses the whole file). :func:`xml_safe` replaces each with U+FFFD, the
  replacement character, so an export is always well-formed.

:data:`CONTROL` is the set of characters that the bank's validator refuses for the same
reasons (see :mod:`.loader`).
"""

from __future__ import annotations

import re

from ..common.cli import printable  # shared with every command line's error handler

__all__ = ["CONTROL", "SAFE_SCHEMES", "neutralise_links", "printable", "xml_safe"]

#: Characters no quiz text should hold: C0 and C1 controls and DEL (except tab, newline and
#: carriage return), lone surrogates (not encodable as UTF-8) and the non-characters U+FFFE
#: and U+FFFF (not allowed in XML).
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")

#: The link schemes a handout keeps: web pages and e-mail addresses.
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})

# A link destination in Markdown: after "](" (inline links and images) or after "[label]:"
# at the start of a line (reference definitions), optionally in angle brackets.
_DESTINATION = re.compile(
    r"(?P<lead>\]\(\s*|^[ \t>]*\[[^\]\n]+\]:[ \t]*)(?P<angle><)?"
    r"(?P<url>(?(angle)[^>\n]*|[^\s)]*))",
    re.M,
)
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
def neutralise_links(markdown: str) -> str:
    """Point every link or image whose scheme is not http, https or mailto at ``#...``.

    The scheme is judged as a browser would read it: backslashes (Markdown escapes),
    spaces and control characters are ignored, so ``java\\script:`` and ``<java script:>``
    count as ``javascript:``. Relative links (no scheme) are kept.
    """
    def fix(match: re.Match) -> str:
        url = match.group("url")
        squeezed = re.sub(r"[\\\x00-\x20\x7f]", "", url)
        scheme = _SCHEME.match(squeezed)
        if scheme is None or scheme.group(1).lower() in SAFE_SCHEMES:
            return match.group()
        return f"{match.group('lead')}{match.group('angle') or ''}#{url}"

    return _DESTINATION.sub(fix, markdown)


def xml_safe(text: str) -> str:
    """``text`` with every character that XML 1.0 forbids replaced by U+FFFD."""
    return _XML_FORBIDDEN.sub("\ufffd", text)


# XML 1.0 allows tab, newline, carriage return and everything from U+0020 up, except
# surrogates and U+FFFE/U+FFFF; DEL and the C1 controls are allowed (but not in the bank).
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
