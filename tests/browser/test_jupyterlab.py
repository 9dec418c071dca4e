"""Every notebook as a learner meets it: JupyterLab in headless Chromium (the ``browser`` tier).

nbval proves that the kernel side runs; this proves that what the kernel sends actually
renders and responds in JupyterLab. For each ``notebooks/*.ipynb`` (a notebook added later
is picked up by the glob) the test opens a temporary copy in JupyterLab, waits until the
kernel is idle, clears the stored outputs, runs all cells from the Run menu, waits for
the run to finish and checks, with expectations read from the notebook itself (see
``notebook_expectations.py``):

* no cell raised, no unexpected stderr, every non-empty code cell ran;
* every widget output is a live widget; quizzes show their questions with Hint / Check /
  Try again buttons and the right number of radio buttons, checkboxes and number boxes;
  sliders and progress bars are there when the notebook uses them;
* every plot is back, and every picture in the outputs has loaded;
* one question of every quiz: Hint shows the hint; a wrong answer + Check shows that
  option's feedback; Try again + the right answer + Check shows the explanation, and the
  score line counts the answer;
* the first exploration slider: ArrowRight on its handle changes the widget's output;
* axe-core finds no serious or critical violation inside the course's own elements
  (``accessibility.py``; what JupyterLab itself draws is printed, not failed).

A screenshot of each notebook goes to ``test-artifacts/browser/`` (reported at the end).
Opt-in: ``LORA_BROWSER_TESTS=1`` (see ``conftest.py`` and the README).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from accessibility import check_accessibility
from lab_server import notebooks_dir
from notebook_expectations import (
    NotebookExpectations, label_text, markdown_text, read_expectations, squash,
)

NOTEBOOKS = sorted(notebooks_dir().glob("*.ipynb"))
RUN_TIMEOUT_S = float(os.environ.get("LORA_BROWSER_TIMEOUT", "900"))
UI_TIMEOUT_MS = 60_000  # one widget round trip through the kernel, on a busy machine
VIEWPORT = {"width": 1366, "height": 900}

pytestmark = pytest.mark.browser

# -- what the page says, read in one go -------------------------------------------------

KERNEL_IDLE_JS = """() => {
  const name = document.querySelector('.jp-NotebookPanel .jp-KernelName');
  if (!name || /No Kernel/i.test(name.textContent)) return false;
  const indicator = document.querySelector('.jp-NotebookPanel .jp-Notebook-ExecutionIndicator');
  if (!indicator || indicator.getAttribute('data-status') !== 'idle') return false;
  return [...document.querySelectorAll('.jp-StatusBar-TextItem')]
    .some(item => / \\| Idle$/.test(item.textContent.trim()));
}"""

RUN_STATE_JS = """(idleJs) => {
  const prompts = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]
    .map(prompt => prompt.textContent.trim());
  const errors = document.querySelectorAll(
    '.jp-Notebook [data-mime-type="application/vnd.jupyter.error"]').length +
    [...document.querySelectorAll(
      '.jp-Notebook [data-mime-type="application/vnd.jupyter.stderr"]')]
      .filter(e => /Traceback|Error/.test(e.textContent)).length;
  return {prompts, errors, idle: eval(idleJs)()};
}"""

CELL_OUTPUTS_JS = """() => [...document.querySelectorAll('.jp-Notebook .jp-Cell')].map(cell => {
  const texts = selector => [...cell.querySelectorAll(selector)].map(e => e.textContent);
  return {
    error: texts('[data-mime-type="application/vnd.jupyter.error"]'),
    stderr: texts('[data-mime-type="application/vnd.jupyter.stderr"]'),
    widgetProblems: texts('.jp-OutputArea-output').filter(
      t => /Error displaying widget|Error rendering view|Loading widget|Failed to load model|Failed to create view/
        .test(t)),
  };
})"""

PICTURES_JS = """() => [...document.querySelectorAll('.jp-Notebook .jp-OutputArea-output img')]
  .map(img => ({ok: img.complete && img.naturalWidth > 0, src: img.src.slice(0, 60)}))"""

PROGRESS_SELECTOR = ".widget-hprogress, .widget-vprogress, .jupyter-widget-progress"

# tqdm bars with leave=False close themselves when done: remember any that ever appeared.
WATCH_PROGRESS_JS = """(selector) => {
  window.__loraProgressSeen = 0;
  new MutationObserver(records => {
    for (const record of records) for (const node of record.addedNodes) {
      if (node.nodeType === 1 && (node.matches(selector) || node.querySelector(selector)))
        window.__loraProgressSeen += 1;
    }
  }).observe(document.body, {childList: true, subtree: true});
}"""

SNAPSHOT_JS = """el => ({
  images: [...el.querySelectorAll('img')].map(img => img.src),
  texts: [...el.querySelectorAll('.widget-html-content, .widget-label-basic, pre')]
    .map(e => e.textContent),
})"""


# -- the tests --------------------------------------------------------------------------

def test_there_are_notebooks():
    assert NOTEBOOKS, f"no *.ipynb in {notebooks_dir()}"


def test_the_course_has_an_exploration_widget():
    """The keyboard check below needs at least one slider somewhere in the course."""
    assert any(read_expectations(path).expects_slider for path in NOTEBOOKS), (
        "no notebook uses a slider widget, so no exploration is moved with the keyboard")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_in_jupyterlab(notebook, lab_server, browser, artifacts_dir):
    from playwright.sync_api import Error as PlaywrightError

    expect = read_expectations(notebook)
    for suffix in ("", "-explorer", "-failure"):  # no stale pictures from an earlier run
        (artifacts_dir / f"{notebook.stem}{suffix}.png").unlink(missing_ok=True)
    started = time.monotonic()
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    problems: list[str] = []
    shots: list[Path] = []
    try:
        page.goto(lab_server.lab_url(notebook.name, workspace=f"test-{notebook.stem}"),
                  wait_until="domcontentloaded", timeout=120_000)
        page.locator(".jp-Notebook .jp-Cell").nth(expect.n_cells - 1).wait_for(
            state="attached", timeout=120_000)
        wait_for_kernel_idle(page)
        menu(page, "Edit", "Clear Outputs of All Cells")  # only fresh outputs are checked
        run_all_and_wait(page, expect)
        ran_s = time.monotonic() - started

        problems += check_outputs(page, expect)
        problems += check_widgets(page, expect)
        problems += check_pictures(page, expect)
        for step in (exercise_quizzes, check_accessibility, move_exploration_slider):
            try:
                problems += step(page, expect, artifacts_dir, shots)
            except (AssertionError, PlaywrightError) as err:
                problems.append(f"{step.__name__}: {first_lines(str(err))}")
        if not shots:
            shots.append(screenshot(page, artifacts_dir / f"{notebook.stem}.png"))
        print(f"{notebook.name}: ran in {ran_s:.0f} s, checked in "
              f"{time.monotonic() - started - ran_s:.0f} s; screenshots: "
              + ", ".join(str(s) for s in shots))
    except BaseException:
        screenshot(page, artifacts_dir / f"{notebook.stem}-failure.png")
        raise
    finally:
        if problems:
            screenshot(page, artifacts_dir / f"{notebook.stem}-failure.png")
        context.close()
        try:
            lab_server.shutdown_kernels()  # free the memory before the next notebook
        except OSError as err:  # the server is gone: the next notebook will say so
            print(f"could not shut down the kernels: {err}")
    assert not problems, f"{notebook.name} in JupyterLab:\n- " + "\n- ".join(problems)


# -- running ----------------------------------------------------------------------------

def menu(page, top: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(top)}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).click()


def wait_for_kernel_idle(page, timeout_s: float = 180, settle_s: float = 1.0) -> None:
    """Idle, and still idle a moment later: a kernel that is starting flickers through
    'Idle' before it is ready, and a Run All sent then is silently dropped."""
    deadline = time.monotonic() + timeout_s
    idle_since = None
    while time.monotonic() < deadline:
        if page.evaluate(KERNEL_IDLE_JS):
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since >= settle_s:
                return
        else:
            idle_since = None
        time.sleep(0.25)
    raise AssertionError(f"the kernel did not become idle within {timeout_s:.0f} s")


def run_all_and_wait(page, expect: NotebookExpectations) -> None:
    """Run > Run All Cells, then wait until every cell ran (or one raised)."""
    position = {cell: n for n, cell in enumerate(expect.code_cells)}
    must_run = [position[cell] for cell in expect.nonempty_code_cells]
    page.evaluate(WATCH_PROGRESS_JS, PROGRESS_SELECTOR)
    menu(page, "Run", "Run All Cells")
    started = time.monotonic()
    deadline = started + RUN_TIMEOUT_S
    reissued = False
    done_polls = 0
    state = {}
    while time.monotonic() < deadline:
        state = page.evaluate(RUN_STATE_JS, KERNEL_IDLE_JS)
        prompts = state["prompts"]
        busy = any("*" in prompt for prompt in prompts)
        ran = all(re.search(r"\[\d+\]", prompts[n]) for n in must_run if n < len(prompts))
        if state["idle"] and not busy and (ran or state["errors"]):
            done_polls += 1
            if done_polls >= 3:  # idle over three polls: not just between two cells
                return
        else:
            done_polls = 0
        nothing_started = not busy and not any(re.search(r"\d", p) for p in prompts)
        if nothing_started and not reissued and time.monotonic() - started > 30:
            menu(page, "Run", "Run All Cells")  # the first one was dropped: once more
            reissued = True
        time.sleep(1)
    raise AssertionError(f"the notebook did not finish within {RUN_TIMEOUT_S:.0f} s "
                         f"(LORA_BROWSER_TIMEOUT); prompts: {' '.join(state.get('prompts', []))}")


# -- checks after the run ---------------------------------------------------------------

def check_outputs(page, expect: NotebookExpectations) -> list[str]:
    """No errors, no unexpected stderr, every non-empty code cell ran."""
    problems = []
    cells = page.evaluate(CELL_OUTPUTS_JS)
    if len(cells) != expect.n_cells:
        return [f"JupyterLab shows {len(cells)} cells, the notebook has {expect.n_cells}"]
    prompts = page.evaluate(RUN_STATE_JS, KERNEL_IDLE_JS)["prompts"]
    for n, cell in enumerate(expect.code_cells):
        where = f"cell {cell}"
        out = cells[cell]
        for text in out["error"]:
            problems.append(f"{where} raised: {first_lines(text)}")
        for text in out["stderr"]:
            if "Traceback" in text or re.search(r"\w+Error\b", text):
                problems.append(f"{where} raised: {first_lines(text)}")
            elif cell not in expect.stderr_cells:
                problems.append(f"{where} wrote to stderr (its stored output does not): "
                                f"{first_lines(text)}")
        for text in out["widgetProblems"]:
            problems.append(f"{where}: widget did not render: {first_lines(text)}")
        if cell in expect.nonempty_code_cells and not re.search(r"\[\d+\]", prompts[n]):
            problems.append(f"{where} did not run (prompt {prompts[n]!r})")
    return problems


def output_of(page, cell: int):
    return page.locator(".jp-Notebook .jp-Cell").nth(cell).locator(".jp-OutputArea")


def check_widgets(page, expect: NotebookExpectations) -> list[str]:
    """Live widgets where the notebook shows widgets; quizzes complete; sliders, progress."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect as see

    problems = []
    for cell in expect.widget_cells:
        try:
            see(output_of(page, cell).locator(".jupyter-widgets").first).to_be_attached(
                timeout=UI_TIMEOUT_MS)
        except (AssertionError, PlaywrightError):
            problems.append(f"cell {cell}: no live widget rendered (static fallback or nothing)")
    for cell in sorted(expect.quiz_cells):
        calls = [call for call in expect.quiz_calls if call.cell == cell]
        out = output_of(page, cell)
        where = f"quiz {', '.join(repr(call.name) for call in calls)} in cell {cell}"
        if any(call.quiz is None for call in calls):  # arguments that are not literals
            if out.locator("button.widget-button:text-is('Hint')").count() == 0:
                problems.append(f"{where}: no Hint button")
            continue
        questions = [q for call in calls for q in call.quiz.questions]
        wanted = {
            "Hint buttons": (out.locator("button.widget-button:text-is('Hint')"), len(questions)),
            "Check buttons": (out.locator("button.widget-button:text-is('Check')"),
                              len(questions)),
            "Try again buttons": (out.locator("button.widget-button:text-is('Try again')"),
                                  len(questions)),
            "radio buttons": (out.locator(".widget-radio-box input[type=radio]"),
                              sum(len(q.options) for q in questions if q.type == "single")),
            "checkboxes": (out.locator(".widget-checkbox input[type=checkbox]"),
                           sum(len(q.options) for q in questions if q.type == "multiple")),
            "number boxes": (out.locator(".widget-text input"),
                             sum(q.type == "numeric" for q in questions)),
        }
        for what, (locator, count) in wanted.items():
            try:
                see(locator).to_have_count(count, timeout=UI_TIMEOUT_MS)
            except AssertionError:
                problems.append(f"{where}: {locator.count()} {what}, expected {count}")
        shown = squash(out.inner_text())
        for call in calls:
            if squash(f"Quiz: {call.quiz.title}") not in shown:
                problems.append(f"{where}: title {call.quiz.title!r} not shown")
    everything = page.locator(".jp-Notebook .jp-OutputArea")
    if expect.expects_slider:
        if everything.locator(".widget-slider, .jupyter-widget-slider").count() == 0:
            problems.append("the notebook uses a slider, but none rendered")
    if expect.expects_progress:
        seen = page.evaluate("() => window.__loraProgressSeen || 0")
        if seen == 0 and everything.locator(PROGRESS_SELECTOR).count() == 0:
            problems.append("the notebook shows progress bars, but none appeared during the run")
    return problems


def check_pictures(page, expect: NotebookExpectations, timeout_s: float = 30) -> list[str]:
    """Every stored plot is back, and every picture in the outputs has loaded."""
    problems = []
    for cell, count in expect.image_cells.items():
        found = output_of(page, cell).locator("img").count()
        if found < count:
            problems.append(f"cell {cell}: {found} picture(s), the notebook stores {count}")
    deadline = time.monotonic() + timeout_s
    while True:
        broken = [img["src"] for img in page.evaluate(PICTURES_JS) if not img["ok"]]
        if not broken or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    problems += [f"a picture did not load: {src}…" for src in broken]
    return problems


# -- a learner answering a quiz ---------------------------------------------------------

def pick_question(quiz) -> int:
    """A choice question if the quiz has one (they have per-option feedback), else the first."""
    for kind in ("single", "multiple", "numeric"):
        for n, question in enumerate(quiz.questions):
            if question.type == kind:
                return n
    return 0


def exercise_quizzes(page, expect: NotebookExpectations, artifacts_dir, shots) -> list[str]:
    from playwright.sync_api import Error as PlaywrightError

    problems = []
    for index, call in enumerate(expect.quiz_calls):
        if call.quiz is None:
            continue
        n = pick_question(call.quiz)
        question = call.quiz.questions[n]
        earlier = sum(len(other.quiz.questions) for other in expect.quiz_calls[:index]
                      if other.cell == call.cell and other.quiz is not None)
        try:
            box = exercise_question(page, output_of(page, call.cell), call.quiz, n,
                                    offset=earlier)
        except (AssertionError, PlaywrightError) as err:
            problems.append(f"quiz {call.name!r} in cell {call.cell}, question "
                            f"{question.id!r}: {first_lines(str(err))}")
            continue
        if not shots:  # the notebook's screenshot: a quiz just answered
            box.scroll_into_view_if_needed()
            shots.append(screenshot(page, artifacts_dir / f"{expect.path.stem}.png"))
    if not expect.quiz_calls:
        print(f"{expect.path.name}: no quiz.show(...) call, no quiz exercised")
    return problems


# A question's box: the VBox whose button row holds its Check button (whose label, unlike
# Hint's, never changes). They come in question order.
QUESTION_BOX = ("xpath=.//div[contains(@class, 'widget-vbox')][div[contains(@class, "
                "'widget-hbox')]/button[normalize-space(.)='Check']]")


def exercise_question(page, out, quiz, n: int, offset: int = 0):
    """Hint; a wrong answer and its feedback; Try again; the right answer, the
    explanation and the score. Returns the question's box."""
    question = quiz.questions[n]
    box = out.locator(QUESTION_BOX).nth(offset + n)
    hint, check, retry = (box.locator(":scope > .widget-hbox > button").nth(i) for i in range(3))
    prompt, hint_html, feedback = (box.locator(":scope > .widget-html").nth(i) for i in range(3))
    score = box.locator("xpath=..").locator(":scope > .widget-html").last

    wait_for_text(prompt, markdown_text(question.question), "the question")
    hint.click()
    wait_for_text(hint_html, "Hint:" + markdown_text(question.hint), "the hint")
    wait_for_text(hint, "Hide hint", "the hint button's new label", exact=True)

    if question.type == "numeric":
        wrong = question.answer + max(10 * question.tolerance, abs(question.answer), 1)
        answer(box, question, number=wrong)
        check.click()
        wait_for_text(feedback, "✗ Not quite.", "the wrong-answer mark")
        wait_for_text(feedback, "is too high", "the feedback on a wrong number")
    else:
        wrong = next(i for i, option in enumerate(question.options) if not option.correct)
        answer(box, question, chosen={wrong})
        check.click()
        wait_for_text(feedback, "✗ Not quite.", "the wrong-answer mark")
        wait_for_text(feedback, markdown_text(question.options[wrong].feedback),
                      "the chosen option's feedback")
    wait_until(lambda: retry.is_enabled() and not check.is_enabled(),
               "Try again enabled and Check disabled after checking")

    retry.click()
    wait_until(lambda: check.is_enabled() and not feedback.inner_text().strip(),
               "Try again clears the feedback and re-enables Check")
    if question.type == "numeric":
        answer(box, question, number=question.answer)
    else:
        answer(box, question, chosen=question.correct_indices)
    check.click()
    wait_for_text(feedback, "✓ Right.", "the right-answer mark")
    wait_for_text(feedback, "Explanation." + markdown_text(question.explanation),
                  "the explanation")
    total = len(quiz.questions)
    wait_for_text(score, f"Score: 0 of {total} right on the first try · 1 of {total} answered",
                  "the score line")
    return box


def answer(box, question, chosen=frozenset(), number=None) -> None:
    """Click the options a learner would click (checking each label), or type a number."""
    from playwright.sync_api import expect as see

    if question.type == "numeric":
        field = box.locator(".widget-text input")
        field.fill(repr(number) if not float(number).is_integer() else str(int(number)))
        return
    if question.type == "single":
        labels = box.locator(".widget-radio-box label")
    else:
        labels = box.locator(".widget-checkbox label.widget-label-basic")
    see(labels).to_have_count(len(question.options))
    for i in sorted(chosen):
        label = labels.nth(i)
        shown = squash(label.inner_text())
        wanted = squash(label_text(i, question.options[i].text))
        assert shown == wanted, f"option {i} reads {label.inner_text()!r}, expected {wanted!r}"
        label.click()
        see(label.locator("input")).to_be_checked()


# -- a learner moving an exploration ----------------------------------------------------

def move_exploration_slider(page, expect: NotebookExpectations, artifacts_dir, shots):
    from playwright.sync_api import expect as see

    for cell in expect.exploration_cells:
        out = output_of(page, cell)
        handles = out.locator(".noUi-handle")
        if handles.count() == 0:
            continue
        handle = handles.first
        handle.scroll_into_view_if_needed()
        before = out.evaluate(SNAPSHOT_JS)
        value, top = handle.get_attribute("aria-valuenow"), handle.get_attribute("aria-valuemax")
        key = "ArrowLeft" if float(value) >= float(top) else "ArrowRight"
        handle.focus()
        page.keyboard.press(key)
        see(handle).not_to_have_attribute("aria-valuenow", value, timeout=10_000)
        moved_to = handle.get_attribute("aria-valuenow")

        # The output must change; where the exploration draws a picture, the picture too.
        kinds = ["images"] if before["images"] else ["texts"]

        def changed():
            after = out.evaluate(SNAPSHOT_JS)
            return all(after[kind] != before[kind] for kind in kinds)

        wait_until(changed, f"the {' and '.join(kinds)} of the exploration in cell {cell} to "
                            f"change after {key} on its slider ({value} -> {moved_to})")
        after = out.evaluate(SNAPSHOT_JS)
        what = [kind for kind in ("images", "texts") if after[kind] != before[kind]]
        print(f"{expect.path.name}: cell {cell} slider {value} -> {moved_to} ({key}) "
              f"changed the output's {' and '.join(what)}")
        wait_for_kernel_idle(page, timeout_s=60, settle_s=0.5)
        shots.append(screenshot(page, artifacts_dir / f"{expect.path.stem}-explorer.png"))
        return []
    if expect.expects_slider:
        return ["the notebook uses a slider, but no exploration slider was found to move"]
    print(f"{expect.path.name}: no exploration slider in this notebook")
    return []


# -- small helpers ----------------------------------------------------------------------

def wait_until(condition, what: str, timeout_s: float = UI_TIMEOUT_MS / 1000) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.2)


def wait_for_text(locator, text: str, what: str, exact: bool = False,
                  timeout_s: float = UI_TIMEOUT_MS / 1000) -> None:
    """Wait until ``locator`` shows ``text`` (whitespace ignored)."""
    wanted = squash(text)
    deadline = time.monotonic() + timeout_s
    while True:
        shown = squash(locator.inner_text())
        if (shown == wanted) if exact else (wanted in shown):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not shown: expected {text[:200]!r}, "
                                 f"the page shows {locator.inner_text()[:300]!r}")
        time.sleep(0.2)


def screenshot(page, path: Path) -> Path:
    try:
        page.screenshot(path=str(path))
    except Exception as err:  # a screenshot must never hide the real failure
        print(f"could not save screenshot {path}: {err}")
    return path


def first_lines(text: str, lines: int = 12, chars: int = 1500) -> str:
    return "\n".join(text.strip().splitlines()[:lines])[:chars]
