"""Accessibility in the browser (issue 20, item 5); the unit side is tests/test_accessibility.py.

(Named ``test_browser_accessibility.py``: pytest cannot collect two test files of the same
base name in folders without ``__init__.py``, and ``tests/test_accessibility.py`` exists.)

* A quiz from a real notebook is answered with the keyboard alone: Tab to an option, Space
  to choose it, Tab to Check, Enter; the feedback appears. The options and buttons have
  accessible names, and each focused option and button shows its focus.
* The static copies (what GitHub, nbviewer or an HTML export show): every widget's and the
  quiz's, in a plain page, pass axe-core with no serious or critical violation.

The axe check of every notebook after Run All is part of ``test_jupyterlab.py`` (it reuses
that run); its helpers are in ``accessibility.py``.
"""

from __future__ import annotations

import pytest
import torch

from accessibility import COURSE_SELECTOR, run_axe
from lab_server import notebooks_dir
from notebook_expectations import label_text, markdown_text, read_expectations
from test_jupyterlab import (
    QUESTION_BOX, UI_TIMEOUT_MS, VIEWPORT, menu, output_of, run_all_and_wait, screenshot,
    wait_for_kernel_idle, wait_for_text,
)

pytestmark = pytest.mark.browser

FOCUSED_JS = "el => el === document.activeElement"
FOCUS_SHOWN_JS = """el => {
  const style = getComputedStyle(el);
  return el.matches(':focus-visible') &&
    ((style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0) ||
     style.boxShadow !== 'none');
}"""


def keyboard_quiz():
    """(notebook, quiz call, question index): the smallest notebook whose quiz has a
    single-choice question after its first (the question before it is where Tab starts)."""
    for path in sorted(notebooks_dir().glob("*.ipynb"), key=lambda p: p.stat().st_size):
        expect = read_expectations(path)
        for call in expect.quiz_calls:
            if call.quiz is None or sum(c.cell == call.cell for c in expect.quiz_calls) > 1:
                continue
            for n, question in enumerate(call.quiz.questions[1:], start=1):
                if question.type == "single":
                    return expect, call, n
    pytest.fail("no notebook quiz has a single-choice question after its first")


def test_a_quiz_can_be_answered_with_the_keyboard_alone(lab_server, browser, artifacts_dir):
    from playwright.sync_api import expect as see

    expect, call, n = keyboard_quiz()
    question = call.quiz.questions[n]
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    try:
        page.goto(lab_server.lab_url(expect.path.name, workspace="keyboard"),
                  wait_until="domcontentloaded", timeout=120_000)
        page.locator(".jp-Notebook .jp-Cell").nth(expect.n_cells - 1).wait_for(
            state="attached", timeout=120_000)
        wait_for_kernel_idle(page)
        menu(page, "Edit", "Clear Outputs of All Cells")
        run_all_and_wait(page, expect)

        out = output_of(page, call.cell)
        before, box = out.locator(QUESTION_BOX).nth(n - 1), out.locator(QUESTION_BOX).nth(n)
        radios = box.locator("input[type=radio]")
        see(radios).to_have_count(len(question.options))
        # Accessible names: every option by its label, every button by its text.
        for i, option in enumerate(question.options):
            see(box.get_by_role("radio", name=label_text(i, option.text), exact=True)
                ).to_have_count(1)
        for name in ("Hint", "Check", "Try again"):
            see(box.get_by_role("button", name=name, exact=True)).to_have_count(1)

        # Start on the previous question's Check button; Tab walks through this question's
        # options (each is a tab stop: in JupyterLab the arrow keys move between cells).
        before.get_by_role("button", name="Check", exact=True).focus()
        right = min(question.correct_indices)
        for i in range(len(question.options)):
            page.keyboard.press("Tab")
            assert radios.nth(i).evaluate(FOCUSED_JS), f"Tab did not reach option {i}"
            assert radios.nth(i).evaluate(FOCUS_SHOWN_JS), f"option {i} shows no focus"
            if i == right:
                page.keyboard.press("Space")
                see(radios.nth(i)).to_be_checked()

        page.keyboard.press("Tab")
        hint = box.get_by_role("button", name="Hint", exact=True)
        assert hint.evaluate(FOCUSED_JS), "Tab from the options did not reach Hint"
        page.keyboard.press("Tab")
        check = box.get_by_role("button", name="Check", exact=True)
        assert check.evaluate(FOCUSED_JS), "Tab from Hint did not reach Check"
        assert check.evaluate(FOCUS_SHOWN_JS), "the focused Check button shows no focus ring"
        page.keyboard.press("Enter")
        feedback = box.locator(":scope > .widget-html").nth(2)
        wait_for_text(feedback, "✓ Right.", "the right-answer mark after Enter on Check")
        wait_for_text(feedback, markdown_text(question.explanation), "the explanation")
        screenshot(page, artifacts_dir / "keyboard-quiz.png")
    except BaseException:
        screenshot(page, artifacts_dir / "keyboard-quiz-failure.png")
        raise
    finally:
        context.close()
        lab_server.shutdown_kernels()


# -- the static copies -------------------------------------------------------------------

def static_copies(monkeypatch) -> dict[str, str]:
    """The static HTML of the quiz and of widgets that need no trained model, as shown."""
    import lora_tutorial.common.display as display_module
    from lora_tutorial import quiz
    from lora_tutorial.course.widgets.counting import lora_calculator
    from lora_tutorial.course.widgets.lora_layer import lora_layer_explorer
    from lora_tutorial.course.widgets.memory import memory_explorer
    from lora_tutorial.course.widgets.rank import rank_explorer
    from lora_tutorial.course.widgets.variants import quantization_explorer

    shown = []
    monkeypatch.setattr(display_module, "display", lambda obj, raw=False: shown.append(obj))
    monkeypatch.setenv("LORA_TUTORIAL_PROGRESS", "/nonexistent/never-written.json")
    weight = torch.randn(32, 64, generator=torch.Generator().manual_seed(0))
    makers = {"quiz": lambda: quiz.show("final"), "counting": lora_calculator,
              "lora layer": lora_layer_explorer, "memory": memory_explorer,
              "rank": lambda: rank_explorer(torch.rand(24, 30), r=3),
              "quantization": lambda: quantization_explorer(weight, bits=3)}
    copies = {}
    for name, make in makers.items():
        make()
        copies[name] = shown.pop()["text/html"]
    return copies


def test_static_copies_pass_axe(browser, monkeypatch):
    copies = static_copies(monkeypatch)
    page = browser.new_page()
    try:
        for name, fragment in copies.items():
            page.set_content(f'<!doctype html><html lang="en"><head><title>{name}</title>'
                             f"</head><body><main>{fragment}</main></body></html>")
            assert page.locator(COURSE_SELECTOR).count() == 1, f"{name}: not marked"
            images = page.locator(f"{COURSE_SELECTOR} img")
            for i in range(images.count()):
                assert (images.nth(i).get_attribute("alt") or "").strip(), f"{name}: no alt"
            findings = run_axe(page, {"include": [[COURSE_SELECTOR]]})
            print(f"static copy of {name}: axe finds {findings.count()} element(s) in "
                  f"violation, {findings.count(severe_only=True)} serious or critical")
            assert not findings.severe, f"{name}:\n" + "\n".join(findings.lines(True))
    finally:
        page.close()
