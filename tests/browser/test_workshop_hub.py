"""A workshop on the hub of docs/hub/jupyterhub_config.py, end to end, in headless Chromium.

The instructor guide's hub ("Running the course on a JupyterHub") is started on 127.0.0.1
(``hub_test_config.py`` adds only the test's ports, groups and exchange folder), with real
local accounts: three learners and an instructor, made with ``useradd`` and ``chpasswd``
and removed afterwards. Then, as in a workshop:

1. each learner logs in with their password (PAM) and the hub starts their server, as them;
2. each follows the nbgitpuller link to a bare clone of this checkout (a ``file://`` URL:
   no network), which clones the course into their home and opens notebook 11;
3. each runs it (Run All Cells), answers two questions of its quiz in the widget, each
   learner differently, and hands the answers in with ``quiz.submit()`` in a new cell;
4. the instructor's class report (``python -m lora_tutorial.quiz class EXCHANGE``, run as
   the instructor's account) shows exactly those three learners and those answers.

Along the way it checks what the configuration promises: every server runs as its learner
with ``OMP_NUM_THREADS=1`` and ``LORA_TUTORIAL_EXCHANGE`` set, the idle culler runs, a
learner cannot read another's submission, and nothing the hub started listens beyond the
loopback interface. The hub, the proxy, every server and kernel, and the accounts are
removed also when the test fails.

Needs root (accounts and PAM): skipped otherwise, or failed under
``LORA_BROWSER_TESTS=require``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import pytest

from hub_server import Hub, LearnerEnvironment, LocalAccounts, REPO, make_course_repository, run
from notebook_expectations import read_expectations
from test_jupyterlab import (
    QUESTION_BOX, VIEWPORT, answer, output_of, run_all_and_wait, screenshot,
    wait_for_kernel_idle, wait_for_text,
)

pytestmark = pytest.mark.browser

NOTEBOOK = "11_final_assessment.ipynb"
COURSE = "lora-course"  # the repository's folder name: nbgitpuller clones into ~/lora-course
BRANCH = "workshop"
UI_TIMEOUT_MS = 120_000  # a server starting, on a busy machine
# What each learner clicks: question id -> the option (index in the shown order) chosen.
# None means the right option. alice is right; bob and carol pick the same wrong answer to
# the first question, and carol also a wrong answer to another one.
PLANS = {
    "alice": {"final-summary": None},
    "bob": {"final-summary": "wrong-1", "final-frozen-parameter": None},
    "carol": {"final-summary": "wrong-1", "final-frozen-parameter": "wrong-1"},
}


@pytest.fixture(scope="module")
def workshop(browser, missing):
    """Accounts, a learner-readable environment, the course repository, the exchange, and a
    running hub; all removed at the end, whatever happened."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        missing("The hub test makes local accounts and logs in with PAM: run it as root.")
    for program in ("useradd", "chpasswd", "userdel", "groupadd", "runuser", "git"):
        if shutil.which(program) is None:
            missing(f"The hub test needs `{program}`.")
    try:
        import jupyterhub  # noqa: F401
        import jupyterhub_idle_culler  # noqa: F401
        import nbgitpuller  # noqa: F401
    except ImportError as err:
        missing(f"{err.name} is not installed (`.venv/bin/pip install -r "
                 "requirements-browser.txt`).")

    # The configuration looks for the proxy in the environment first, then on the PATH.
    if not (Path(sys.prefix) / "node_modules" / ".bin" / "configurable-http-proxy").exists() \
            and not shutil.which("configurable-http-proxy"):
        missing("configurable-http-proxy is not installed (`npm install --prefix .venv "
                "configurable-http-proxy@5.3.0`, see .ci/run).")

    tmp = Path(tempfile.mkdtemp(prefix="lora_hub_"))
    tmp.chmod(0o755)
    accounts = LocalAccounts()
    hub = None
    try:
        learners_group = accounts.add_group("learners")
        instructors_group = accounts.add_group("instructors")
        learners = {role: accounts.add_user(role, learners_group) for role in PLANS}
        instructor = accounts.add_user("instructor", instructors_group)

        environment = LearnerEnvironment(tmp / "env")
        repository = make_course_repository(tmp / COURSE, branch=BRANCH)
        run_dir = tmp / "hub"
        run_dir.mkdir(mode=0o700)
        exchange = tmp / "exchange"  # as the guide makes it: instructor's, mode 3733
        run(["install", "-d", "-o", instructor, "-g", instructors_group, "-m", "3733",
                        str(exchange)])
        for user in learners.values():
            # git refuses a repository owned by another account (here root's bare clone);
            # a workshop's repository is a URL, where the question does not arise.
            accounts.run_as(user, ["git", "config", "--global", "--add", "safe.directory",
                                   str(repository)], env=environment.environ(), check=True)

        hub = Hub(environment, run_dir, {"learners": learners_group,
                                         "instructors": instructors_group,
                                         "exchange": str(exchange),
                                         "servers": len(learners)})
        hub.start()
        yield {"hub": hub, "accounts": accounts, "learners": learners,
               "instructor": instructor, "exchange": exchange, "repository": repository,
               "environment": environment}
    finally:
        if hub is not None:
            print("--- end of the hub's log ---\n" + hub.log_tail(3000))
            hub.stop()
        accounts.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def test_a_workshop_on_the_hub(workshop, browser, artifacts_dir):
    from lora_tutorial.quiz.loader import load_bank_quiz

    hub, accounts = workshop["hub"], workshop["accounts"]
    learners, exchange = workshop["learners"], workshop["exchange"]
    expect = read_expectations(REPO / "notebooks" / NOTEBOOK)
    (call,) = [call for call in expect.quiz_calls if call.name == "final"]
    quiz = load_bank_quiz("final")
    questions = {question.id: (n, question) for n, question in enumerate(quiz.questions)}
    chosen = {role: {qid: pick(questions[qid][1], choice) for qid, choice in plan.items()}
              for role, plan in PLANS.items()}

    # 1. Every learner logs in; the hub starts their servers (in parallel from here on).
    contexts = {}
    for role, user in learners.items():
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(UI_TIMEOUT_MS)
        page = context.new_page()
        page.goto(f"{hub.url}/hub/login", wait_until="domcontentloaded")
        page.fill("#username_input", user)
        page.fill("#password_input", accounts.users[user])
        page.click("#login_submit")
        page.wait_for_url(re.compile(r"/(hub/spawn|hub/spawn-pending|user)/"),
                          timeout=UI_TIMEOUT_MS)
        contexts[role] = (context, page)

    try:
        link = (f"{hub.url}/hub/user-redirect/git-pull?"
                + urllib.parse.urlencode({
                    "repo": workshop["repository"].as_uri(), "branch": BRANCH,
                    "urlpath": f"lab/tree/{COURSE}/notebooks/{NOTEBOOK}"}))
        for role, user in learners.items():
            context, page = contexts[role]
            try:
                # 2. The nbgitpuller link: clone, then the notebook opens in JupyterLab.
                page.goto(link, wait_until="domcontentloaded")
                page.wait_for_url(re.compile(re.escape(f"/user/{user}/lab/")),
                                  timeout=UI_TIMEOUT_MS)
                page.locator(".jp-Notebook .jp-Cell").nth(expect.n_cells - 1).wait_for(
                    state="attached", timeout=UI_TIMEOUT_MS)
                assert (accounts.home(user) / COURSE / "notebooks" / NOTEBOOK).is_file()
                wait_for_kernel_idle(page)
                # 3. Run it, answer, hand in.
                run_all_and_wait(page, expect)
                out = output_of(page, call.cell)
                for qid, option in chosen[role].items():
                    n, question = questions[qid]
                    box = out.locator(QUESTION_BOX).nth(n)
                    box.scroll_into_view_if_needed()
                    answer(box, question, chosen={option})
                    box.locator(":scope > .widget-hbox > button").nth(1).click()  # Check
                    mark = "✓ Right." if question.options[option].correct else "✗ Not quite."
                    wait_for_text(box.locator(":scope > .widget-html").nth(2), mark,
                                  f"{user}'s answer to {qid}")
                submitted = submit_in_a_new_cell(page, expect.n_cells)
                wait_for_text(submitted, f"{user}.json", f"{user}'s submission")
                screenshot(page, artifacts_dir / f"hub-{role}.png")
            except BaseException:
                screenshot(page, artifacts_dir / f"hub-{role}-failure.png")
                raise

        check_the_servers(hub, accounts, learners, exchange)
    finally:
        for context, _page in contexts.values():
            context.close()

    # The submissions: one per learner, owned by them, readable by the instructors only.
    instructors_gid = exchange.stat().st_gid
    for role, user in learners.items():
        path = exchange / f"{user}.json"
        info = path.stat()
        assert info.st_uid == accounts_uid(user), f"{path} is not owned by {user}"
        assert info.st_gid == instructors_gid and stat.S_IMODE(info.st_mode) == 0o640, (
            f"{path}: group {info.st_gid}, mode {stat.S_IMODE(info.st_mode):o}")
        recorded = json.loads(path.read_text(encoding="utf-8"))
        assert recorded["learner"] == user
        answers = recorded["quizzes"]["final"]["questions"]
        assert set(answers) == set(chosen[role]), (user, sorted(answers))
        for qid, option in chosen[role].items():
            question = questions[qid][1]
            (attempt,) = answers[qid]["answers"]
            assert attempt["chosen"] == [question.options[option].text]
            assert answers[qid]["first_try_correct"] == question.options[option].correct
    other = accounts.run_as(learners["alice"], ["cat", str(exchange / f"{learners['bob']}.json")],
                            env=workshop["environment"].environ())
    assert other.returncode != 0, "a learner could read another learner's submission"

    # 4. The instructor's report, run as the instructor.
    report = accounts.run_as(workshop["instructor"], [
        str(workshop["environment"].python), "-m", "lora_tutorial.quiz", "class",
        str(exchange)], env=workshop["environment"].environ())
    assert report.returncode == 0, report.stdout + report.stderr
    print(report.stdout)
    names = sorted(learners.values())
    assert report.stdout.splitlines()[0] == f"3 learner(s): {', '.join(names)}"
    rows = {cells[1]: cells[2:] for cells in table_rows(report.stdout) if cells[0] == "final"}
    summary, frozen = questions["final-summary"][1], questions["final-frozen-parameter"][1]
    wrong_summary = chosen["bob"]["final-summary"]
    wrong_frozen = chosen["carol"]["final-frozen-parameter"]
    assert rows == {
        "final-summary": ["3", "33%", f"{letter(wrong_summary)}. "
                          f"{summary.options[wrong_summary].text} (2×)"],
        "final-frozen-parameter": ["2", "50%", f"{letter(wrong_frozen)}. "
                                   f"{frozen.options[wrong_frozen].text} (1×)"],
    }, report.stdout
    assert "Skipped" not in report.stdout


# -- helpers -----------------------------------------------------------------------------

def pick(question, plan) -> int:
    """The shown index of the option a plan names: None the right one, 'wrong-k' the k-th
    wrong one."""
    if question.type != "single":
        raise ValueError(f"{question.id} is not a single-choice question")
    if plan is None:
        return next(i for i, option in enumerate(question.options) if option.correct)
    k = int(plan.split("-")[1])
    return [i for i, option in enumerate(question.options) if not option.correct][k - 1]


def letter(index: int) -> str:
    from lora_tutorial.quiz.model import option_letter

    return option_letter(index)


def accounts_uid(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_uid


def table_rows(text: str) -> list[list[str]]:
    """The cells of a markdown table's body rows."""
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not re.match(r"^\|[\s:|-]+\|$", line):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows[1:]  # without the header


def submit_in_a_new_cell(page, n_cells: int):
    """Add a code cell below the last one, type ``print(quiz.submit())`` and run it, as a
    learner would; returns its output area."""
    page.locator(".jp-Notebook .jp-Cell").last.click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    cells = page.locator(".jp-Notebook .jp-Cell")
    cells.nth(n_cells).wait_for(state="attached")
    cells.nth(n_cells).locator(".jp-InputArea-editor").click()
    page.keyboard.type("print(quiz.submit())")
    page.keyboard.press("Shift+Enter")
    return cells.nth(n_cells).locator(".jp-OutputArea")


def check_the_servers(hub: Hub, accounts: LocalAccounts, learners: dict, exchange: Path):
    """Each learner's server runs as them with the configured environment; the culler
    runs; every socket the hub's processes listen on is on the loopback interface."""
    import psutil

    processes = hub.processes()
    servers = {}
    for process in processes:
        try:
            command = " ".join(process.cmdline())
            if "jupyterhub.singleuser" in command:
                servers[process.username()] = process
            elif "jupyterhub_idle_culler" in command:
                servers.setdefault("culler", process)
        except psutil.Error:
            pass
    assert "culler" in servers, "the idle culler is not running"
    for user in learners.values():
        assert user in servers, f"no server runs as {user}: {sorted(servers)}"
        env = servers[user].environ()
        assert env.get("OMP_NUM_THREADS") == "1", env.get("OMP_NUM_THREADS")
        assert env.get("LORA_TUTORIAL_EXCHANGE") == str(exchange)
        assert env.get("JUPYTERHUB_USER") == user
    sockets = hub.listening_sockets()
    listening_pids = {pid for pid, *_ in sockets}
    assert hub.process.pid in listening_pids, sockets
    for user in learners.values():
        assert servers[user].pid in listening_pids, (user, sockets)
    assert any("configurable-http-proxy" in program for _pid, program, *_ in sockets), sockets
    beyond = [socket for socket in sockets if socket[2] not in ("127.0.0.1", "::1")]
    assert not beyond, f"listening beyond the loopback interface: {beyond}"
    print("listening sockets: " + "; ".join(f"{program} on {ip}:{port}"
                                             for _pid, program, ip, port in sockets))
