"""Read the course's printed verdicts back and check each word against its own numbers.

A verdict is a line starting with "→" (see lora_tutorial/course/verdicts.py). This reader is
written independently of the writer: it parses the printed figures, recomputes the ratio or
the overlap, and says what is wrong when a word disagrees with them. It keeps its own list of
words on purpose (a reader that imported the writer's could not catch the writer's slips).

Used twice: by tests/test_verdicts.py on every notebook's *stored* outputs, and by the root
conftest.py on the *live* outputs of every notebook cell nbval runs (so the portability pass,
on another kernel path and thread count, checks the verdicts it produces too).
"""

import re

MORE_LESS = [("slower", "faster"), ("more memory", "less memory"), ("higher", "lower"),
             ("larger", "smaller"), ("more", "fewer")]
NUMBER = r"-?\d+(?:\.\d+)?"
UNIT = r"((?: ?[^\s\d:][^\s:]*)?)"
RATIO = re.compile(rf"^→ .+? ({NUMBER}){UNIT} vs .+? ({NUMBER}){UNIT}: ({NUMBER})×, "
                   rf"(about the same \(within (\d+)%\)|[a-z ]+?)(?: — .*)?$")
SPREAD = re.compile(rf"^→ .+? ({NUMBER}) \(({NUMBER})–({NUMBER})\) vs .+? ({NUMBER}) "
                    rf"\(({NUMBER})–({NUMBER})\): (within the spread: these seeds cannot tell "
                    rf"them apart|([a-z ]+?), beyond the spread)(?: — .*)?$")
INSIDE = re.compile(rf"^→ .+? ({NUMBER}) against the recorded ({NUMBER})–({NUMBER}): "
                    rf"(inside|outside)$")


def _decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def _direction(word: str) -> str:
    for more, less in MORE_LESS:
        if word == more:
            return "more"
        if word == less:
            return "less"
    raise AssertionError(f"unknown verdict word {word!r}")


def check_ratio(match: re.Match) -> str | None:
    value, ref, printed = (float(match.group(i)) for i in (1, 3, 5))
    if ref == 0:
        return "a ratio against a reference printed as 0"
    half = 0.5 * 10 ** -_decimals(match.group(1)), 0.5 * 10 ** -_decimals(match.group(3))
    low = max(value - half[0], 0) / (ref + half[1])
    high = (value + half[0]) / max(ref - half[1], 1e-12)
    if not low - 0.005 <= printed <= high + 0.005:
        return f"the ratio {printed}× does not follow from {value} and {ref}"
    word = match.group(6)
    if word.startswith("about the same"):
        within = int(match.group(7)) / 100
        if abs(printed - 1) > within + 0.005:
            return f"'{word}' but the ratio is {printed}×"
        return None
    direction = _direction(word)
    if direction == "more" and printed < 1:
        return f"'{word}' but the ratio {printed}× is below 1"
    if direction == "less" and printed > 1:
        return f"'{word}' but the ratio {printed}× is above 1"
    return None


def check_spread(match: re.Match) -> str | None:
    a_mean, a_low, a_high, b_mean, b_low, b_high = (float(match.group(i)) for i in range(1, 7))
    for mean, low, high in ((a_mean, a_low, a_high), (b_mean, b_low, b_high)):
        if not low <= mean <= high:
            return f"the mean {mean} lies outside its own range {low}–{high}"
    word = match.group(8)
    if word is None:                                       # "within the spread"
        if a_low > b_high or a_high < b_low:
            return "'within the spread' but the ranges do not overlap"
        return None
    direction = _direction(word)
    if direction == "more" and not a_low >= b_high:
        return f"'{word}, beyond the spread' but the ranges overlap or go the other way"
    if direction == "less" and not a_high <= b_low:
        return f"'{word}, beyond the spread' but the ranges overlap or go the other way"
    return None


def check_inside(match: re.Match) -> str | None:
    value, low, high = (float(match.group(i)) for i in (1, 2, 3))
    inside = low <= value <= high
    if (match.group(4) == "inside") != inside:
        return f"'{match.group(4)}' but {value} against {low}–{high}"
    return None


def problems(text: str) -> list[str]:
    """Every verdict line in ``text`` whose words disagree with its numbers (or that cannot
    be read as a verdict at all), as messages."""
    found = []
    for line in text.splitlines():
        if not line.startswith("→ "):
            continue
        for pattern, check in ((RATIO, check_ratio), (SPREAD, check_spread),
                               (INSIDE, check_inside)):
            match = pattern.match(line)
            if match:
                problem = check(match)
                if problem:
                    found.append(f"{line!r}: {problem}")
                break
        else:
            found.append(f"{line!r}: starts with → but is not a verdict this reader knows")
    return found


def verdict_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("→ ")]


def output_text(outputs: list) -> str:
    """The text a notebook cell's outputs show: streams, and plain or markdown results."""
    parts = []
    for output in outputs:
        if output.get("output_type") == "stream":
            parts.append(_joined(output.get("text", "")))
        data = output.get("data", {})
        for kind in ("text/plain", "text/markdown"):
            if kind in data:
                parts.append(_joined(data[kind]))
    return "\n".join(parts)


def _joined(text) -> str:
    return "".join(text) if isinstance(text, list) else text
