"""Conclusions computed from the numbers of this run, never typed by hand.

A notebook that measures step time, memory or loss on *your* machine cannot know the answer
in advance: a busy laptop, another CPU or another batch size can turn "faster" into "slower".
So where a notebook draws a conclusion from a live measurement, it prints a *verdict* built
here from the numbers themselves, and the words cannot contradict the figures beside them.

Every verdict is one line that starts with ``→`` and has a fixed form, so a test can read the
stored outputs of every notebook and check each word against its numbers:

* :func:`ratio`: ``→ LoRA q,v 15.8 ms vs full fine-tuning 9.8 ms: 1.61×, slower``
  (or ``about the same (within 10%)`` when the ratio is that close to 1);
* :func:`spread`: two sets of runs (one per seed) as ``mean (min–max)``, and whether they
  differ *beyond the spread*: only then does the verdict name a direction;
* :func:`inside`: does a value measured now land inside a range recorded earlier
  (a sweep too slow for the notebook, re-run here for its cheapest row)?

The words come in pairs, the first for "more", the second for "less": see :data:`WORDS`.
"""

from collections.abc import Sequence

WORDS = {
    "time": ("slower", "faster"),
    "memory": ("more memory", "less memory"),
    "loss": ("higher", "lower"),
    "size": ("larger", "smaller"),
    "accuracy": ("higher", "lower"),
    "count": ("more", "fewer"),
}
"""Which words a verdict may use, by the kind of quantity it compares: (more, less)."""

ARROW = "→"


def _words(kind: str) -> tuple[str, str]:
    if kind not in WORDS:
        raise ValueError(f"unknown verdict kind {kind!r}: use one of {sorted(WORDS)}")
    return WORDS[kind]


def _number(value: float, digits: int) -> str:
    return f"{value:.{digits}f}"


def _because(word: str, because: dict[str, str] | None) -> str:
    """The explanation that belongs to the word the numbers chose, if the caller gave one."""
    if because and word in because:
        return f" — {because[word]}"
    return ""


def ratio(label: str, value: float, reference_label: str, reference: float, *, kind: str,
          unit: str = "", digits: int = 1, same_within: float = 0.10,
          because: dict[str, str] | None = None) -> str:
    """``value`` against ``reference`` as a ratio, and the word that ratio earns.

    The ratio is printed with two decimals; within ``same_within`` of 1 (10% by default: a
    timing on a laptop moves that much from run to run) the verdict says "about the same".
    ``because`` maps a word ("slower", "faster", "about the same") to an explanation that is
    printed only when the numbers chose that word.

    >>> ratio("LoRA q,v", 15.8, "full fine-tuning", 9.8, kind="time", unit=" ms")
    '→ LoRA q,v 15.8 ms vs full fine-tuning 9.8 ms: 1.61×, slower'
    """
    more, less = _words(kind)
    if reference <= 0 or value < 0:
        raise ValueError(f"a ratio needs a positive reference and a non-negative value; got "
                         f"{value} against {reference}")
    if not 0 <= same_within < 1:
        raise ValueError(f"same_within is a fraction such as 0.1 (10%); got {same_within}")
    times = value / reference
    if abs(times - 1) <= same_within:
        word = "about the same"
        said = f"about the same (within {same_within:.0%})"
    else:
        word = said = more if times > 1 else less
    return (f"{ARROW} {label} {_number(value, digits)}{unit} vs {reference_label} "
            f"{_number(reference, digits)}{unit}: {times:.2f}×, {said}{_because(word, because)}")


def mean_range(values: Sequence[float], digits: int = 3) -> str:
    """``mean (min–max)`` of a set of runs, the way every table of the course writes it."""
    if not values:
        raise ValueError("mean_range needs at least one value")
    mean = sum(values) / len(values)
    return (f"{_number(mean, digits)} ({_number(min(values), digits)}–"
            f"{_number(max(values), digits)})")


def spread(label: str, values: Sequence[float], reference_label: str,
           reference: Sequence[float], *, kind: str, digits: int = 3,
           because: dict[str, str] | None = None) -> str:
    """Two methods over several seeds: a direction only when their ranges do not overlap.

    When the lowest run of one method lies above the highest of the other, the difference
    is *beyond the spread* and the verdict names it ("lower, beyond the spread"); when the
    ranges overlap, the seeds disagree and the verdict says so ("within the spread: these
    seeds cannot tell them apart"). Fewer than two runs per method cannot show a spread.

    >>> spread("LoRA+", [1.20, 1.22], "LoRA", [1.30, 1.33], kind="loss", digits=2)
    '→ LoRA+ 1.21 (1.20–1.22) vs LoRA 1.31 (1.30–1.33): lower, beyond the spread'
    """
    more, less = _words(kind)
    if len(values) < 2 or len(reference) < 2:
        raise ValueError(f"a spread needs at least two runs (seeds) per method; got "
                         f"{len(values)} and {len(reference)}")
    if min(values) > max(reference):
        word, said = more, f"{more}, beyond the spread"
    elif max(values) < min(reference):
        word, said = less, f"{less}, beyond the spread"
    else:
        word, said = "within the spread", "within the spread: these seeds cannot tell them apart"
    return (f"{ARROW} {label} {mean_range(values, digits)} vs {reference_label} "
            f"{mean_range(reference, digits)}: {said}{_because(word, because)}")


def inside(label: str, value: float, recorded: Sequence[float], *, digits: int = 3,
           slack: float = 0.0) -> str:
    """Does ``value`` (measured now) land inside the ``recorded`` runs' range?

    ``slack`` widens the range on both sides by that fraction of its width, for a value that
    comes from another CPU's last bits. The verdict prints the range it used, so the word can
    be checked against it.

    >>> inside("this run", 1.21, [1.20, 1.22, 1.25], digits=2)
    '→ this run 1.21 against the recorded 1.20–1.25: inside'
    """
    if not recorded:
        raise ValueError("inside needs the recorded runs to compare with")
    low, high = min(recorded), max(recorded)
    margin = slack * (high - low)
    low, high = low - margin, high + margin
    said = "inside" if low <= value <= high else "outside"
    return (f"{ARROW} {label} {_number(value, digits)} against the recorded "
            f"{_number(low, digits)}–{_number(high, digits)}: {said}")
