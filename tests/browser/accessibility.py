"""axe-core checks for the browser tier (helpers; the tests are in test_jupyterlab.py and
test_accessibility.py).

axe-core comes bundled with ``axe-playwright-python`` (``requirements-browser.txt``): nothing
is downloaded. Every element the course draws carries the CSS class ``lora-course`` (live
widgets: :func:`lora_tutorial.common.display.show_widget`; static copies: the ``<div>``
around them). :func:`axe_split` runs axe twice on the page: inside those elements, where a
serious or critical violation is the course's fault and fails the test, and on everything
else, which JupyterLab draws and the course cannot change: those are only reported (as are
ipywidgets' slider handles inside the course's widgets, see ``SLIDER_HANDLE``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

COURSE_CLASS = "lora-course"  # the same literal as lora_tutorial.common.display (tested)
COURSE_SELECTOR = f".{COURSE_CLASS}"
SEVERE = ("serious", "critical")


@dataclass
class AxeFindings:
    """axe's violations in one part of the page: ``(rule id, impact, node count, help)``."""

    violations: list[tuple[str, str, int, str]] = field(default_factory=list)
    examples: dict[str, list[str]] = field(default_factory=dict)  # rule -> a few node snippets

    @property
    def severe(self) -> list[tuple[str, str, int, str]]:
        return [v for v in self.violations if v[1] in SEVERE]

    def count(self, severe_only: bool = False) -> int:
        return sum(v[2] for v in (self.severe if severe_only else self.violations))

    def lines(self, severe_only: bool = False) -> list[str]:
        chosen = self.severe if severe_only else self.violations
        return [f"{rule} ({impact}, {nodes} element(s)): {text}; e.g. "
                + " | ".join(self.examples.get(rule, [])) for rule, impact, nodes, text in chosen]


def run_axe(page, context) -> AxeFindings:
    """axe-core's violations for ``context`` (an axe context object) on ``page``."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, context=context, options={"resultTypes": ["violations"]})
    findings = AxeFindings()
    for violation in results.response.get("violations", []):
        nodes = violation.get("nodes", [])
        findings.violations.append((violation["id"], violation.get("impact") or "minor",
                                    len(nodes), violation.get("help", "")))
        findings.examples[violation["id"]] = [node.get("html", "")[:160] for node in nodes[:3]]
    return findings


# ipywidgets draws a slider's handle as a noUiSlider <div role="slider"> without an
# accessible name (ipywidgets passes no ``handleAttributes``), and no Python-side setting adds
# one: the course cannot fix it, so its findings are reported like JupyterLab's, not failed.
SLIDER_HANDLE = ".noUi-handle"


def axe_split(page, selector: str = COURSE_SELECTOR
              ) -> tuple[AxeFindings, AxeFindings, AxeFindings]:
    """(findings inside the course's elements, in ipywidgets' slider handles there, and in
    the rest of the page)."""
    course, handles = AxeFindings(), AxeFindings()
    inside_handles = f"{selector} {SLIDER_HANDLE}"
    if page.locator(selector).count():  # axe refuses an include that matches nothing
        course = run_axe(page, {"include": [[selector]], "exclude": [[inside_handles]]})
    if page.locator(inside_handles).count():
        handles = run_axe(page, {"include": [[inside_handles]]})
    rest = run_axe(page, {"exclude": [[selector]]})
    return course, handles, rest


def check_accessibility(page, expect, artifacts_dir=None, shots=None) -> list[str]:
    """A step of the notebook test: axe on the notebook after Run All (and the quiz
    answered). Serious or critical violations inside the course's elements are problems;
    the rest of the page (JupyterLab's own) is printed, not failed."""
    course, handles, lab = axe_split(page)
    name = expect.path.name
    print(f"{name}: axe inside the course's elements: {course.count(severe_only=True)} "
          f"serious/critical element(s), {course.count()} in all; ipywidgets' slider handles: "
          f"{handles.count(severe_only=True)} serious/critical; JupyterLab's own page: "
          f"{lab.count(severe_only=True)} serious/critical, {lab.count()} in all")
    for line in lab.lines():
        print(f"{name}: JupyterLab (reported, not failed): {line}")
    for line in handles.lines():
        print(f"{name}: ipywidgets' slider handle (reported, not failed): {line}")
    for line in course.lines():
        print(f"{name}: course: {line}")
    return [f"axe, inside the course's elements: {line}" for line in course.lines(severe_only=True)]
