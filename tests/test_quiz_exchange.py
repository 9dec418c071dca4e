"""Handing answers in through a class exchange folder: private files, one's own only, atomic.

The last test runs as root only (CI does): it creates throwaway accounts and checks, as each
of them, that a learner can write their own submission and nobody else's, can read or list
none, and that the instructor reads them all.
"""

import json
import os
import stat
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from lora_tutorial.quiz import EXCHANGE_ENV, QuizError, class_summary, init_exchange, submit
from lora_tutorial.quiz.analysis import item_analysis
from lora_tutorial.quiz.exchange import account_may_submit_as
from lora_tutorial.quiz.progress import record_answer, reset_progress
from refusal import unchanged

ROOT = os.geteuid() == 0


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "lora_tutorial.quiz", *args],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def exchange(tmp_path):
    return init_exchange(tmp_path / "exchange")


def test_exchange_init_makes_a_sticky_set_group_id_folder_others_cannot_list(exchange):
    info = exchange.stat()
    assert stat.S_IMODE(info.st_mode) == 0o3733
    assert info.st_uid == os.getuid() and info.st_gid == os.getgid()
    with pytest.raises(QuizError, match="already exists"):
        init_exchange(exchange)
    with pytest.raises(QuizError, match="No group"):
        init_exchange(exchange.parent / "other", group="no-such-group-here")


def test_submit_writes_a_private_copy_of_the_answers_and_resubmitting_replaces_it(
        private_progress, exchange, monkeypatch):
    monkeypatch.setenv(EXCHANGE_ENV, str(exchange))
    monkeypatch.setenv("JUPYTERHUB_USER", "ana")
    record_answer("final", "T", "final-summary", False, ["some wrong text"])
    path = submit()
    assert path == exchange / "ana.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == "lora_tutorial.answers" and data["learner"] == "ana"
    assert data["quizzes"]["final"]["questions"]["final-summary"]["first_try_correct"] is False
    reset_progress()
    record_answer("final", "T", "final-init", True, ["x"])
    assert submit() == path
    assert list(json.loads(path.read_text())["quizzes"]["final"]["questions"]) == ["final-init"]
    assert sorted(p.name for p in exchange.iterdir()) == ["ana.json"]  # no temporary left
    (summary_learner,) = class_summary(exchange).learners
    assert summary_learner == "ana"


MODES = {"listable": 0o755, "not sticky": 0o2733, "readable": 0o3737}


@pytest.mark.parametrize("setting, message", [
    (None, "LORA_TUTORIAL_EXCHANGE is not set"),
    ("missing", "cannot be used: No such file"),
    ("file", "is not a folder"),
    ("listable", "has mode 755, so other learners could list"),
    ("not sticky", "has mode 2733"),
    ("readable", "has mode 3737"),
])
def test_a_bad_exchange_setting_is_refused_naming_the_variable_and_the_fix(
        private_progress, tmp_path, monkeypatch, setting, message):
    target = tmp_path / "exchange"
    if setting == "file":
        target.write_text("not a folder")
    elif setting in MODES:
        target.mkdir()
        os.chmod(target, MODES[setting])
    if setting is None:
        monkeypatch.delenv(EXCHANGE_ENV, raising=False)
    else:
        monkeypatch.setenv(EXCHANGE_ENV, str(target))
    record_answer("final", "T", "final-init", True, ["x"])
    with unchanged(tmp_path), pytest.raises(QuizError, match=message) as refused:
        submit(name="ana")
    assert EXCHANGE_ENV in str(refused.value)
    assert ("install -d" in str(refused.value) or "chmod 3733" in str(refused.value)
            or "export LORA_TUTORIAL_EXCHANGE=" in str(refused.value)
            or setting == "file")
    result = cli("submit", "--name", "ana", env={EXCHANGE_ENV: str(target)})
    if setting is not None:
        assert result.returncode == 1 and EXCHANGE_ENV in result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize("name", ["../x", ".hidden", "-rf", "a b", "", "x/y", "é" * 3])
def test_a_name_that_cannot_be_a_file_name_is_refused(private_progress, exchange, name):
    with unchanged(exchange), pytest.raises(QuizError, match="cannot name a submission"):
        submit(name=name, folder=exchange)


def test_an_account_may_submit_only_under_its_own_or_its_hub_name():
    assert account_may_submit_as("ana", "ana")
    assert account_may_submit_as("jupyter-ana", "ana")
    assert not account_may_submit_as("ben", "ana")
    assert not account_may_submit_as("jupyter-ben", "ana")


def test_learners_submitting_at_once_lose_nothing(tmp_path, exchange, monkeypatch):
    """Eight processes at once: six learners, and one learner twice from two notebooks."""
    names = [f"learner{i}" for i in range(6)] + ["twice", "twice"]
    runs = []
    for i, name in enumerate(names):
        progress = tmp_path / f"progress{i}.json"
        monkeypatch.setenv("LORA_TUTORIAL_PROGRESS", str(progress))
        record_answer("final", "T", f"q{i}", i % 2 == 0, ["x"])
        runs.append({"LORA_TUTORIAL_PROGRESS": str(progress), EXCHANGE_ENV: str(exchange),
                     "JUPYTERHUB_USER": name})
    processes = [subprocess.Popen([sys.executable, "-m", "lora_tutorial.quiz", "submit"],
                                  env={**os.environ, **env}, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE) for env in runs]
    for process in processes:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err.decode()
    assert sorted(p.name for p in exchange.iterdir()) == sorted(f"{n}.json" for n in set(names))
    for i, name in enumerate(names[:6]):
        data = json.loads((exchange / f"{name}.json").read_text())
        assert list(data["quizzes"]["final"]["questions"]) == [f"q{i}"]
    twice = json.loads((exchange / "twice.json").read_text())
    assert list(twice["quizzes"]["final"]["questions"]) in (["q6"], ["q7"])  # one, whole


def test_a_link_in_an_exchange_is_skipped_not_followed(private_progress, tmp_path, exchange):
    record_answer("final", "T", "final-init", True, ["x"])
    submit(name="ana", folder=exchange)
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text((exchange / "ana.json").read_text())
    (exchange / "ben.json").symlink_to(elsewhere)
    summary = class_summary(exchange)
    assert summary.learners == ["ana"]
    assert any("ben.json: not a regular file" in item for item in summary.skipped)


def test_the_name_inside_a_submission_is_not_believed(private_progress, exchange):
    record_answer("final", "T", "final-init", True, ["x"])
    path = submit(name="ana", folder=exchange)
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "learner": "The Instructor"}))
    assert class_summary(exchange).learners == ["ana"]
    assert item_analysis(exchange).learners == ["ana"]


# --- with real accounts (root only) ------------------------------------------------------

def _run_as(account, function, env):
    """Run ``function()`` in a child process that has become ``account`` (real, effective
    and saved uid, gid and groups); return its result, or ``("error", type, message)``."""
    import pwd

    user = pwd.getpwnam(account)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop root for good, then run
        try:
            os.close(read)
            os.setgroups(os.getgrouplist(account, user.pw_gid))
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            os.environ.clear()
            os.environ.update(env)
            try:
                result = function()
            except Exception as error:  # noqa: BLE001 (sent to the parent to check)
                result = ("error", type(error).__name__, str(error))
            os.write(write, json.dumps(result).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        answer = pipe.read()
    os.waitpid(pid, 0)
    return json.loads(answer)


def _attempt(action):
    """What ``action()`` did: "ok", or the name of the error it raised."""
    try:
        action()
    except OSError as err:
        return type(err).__name__
    return "ok"


@pytest.mark.skipif(not ROOT, reason="creates throwaway accounts: runs as root (CI) only")
def test_with_real_accounts_learners_write_their_own_and_read_no_one_elses():
    tag = uuid.uuid4().hex[:6]
    group, empty, teacher, ana, ben = (f"ltq{tag}{who}"
                                       for who in ("grp", "empty", "teach", "ana", "ben"))
    base = Path(tempfile.mkdtemp(prefix="ltq-exchange-", dir="/tmp"))
    created = []
    try:
        for name in (group, empty):
            subprocess.run(["groupadd", name], check=True)
            created.append(("groupdel", name))
        for account, extra in ((teacher, ["-G", group]), (ana, []), (ben, [])):
            subprocess.run(["useradd", "-M", "-U", "-s", "/usr/sbin/nologin", *extra, account],
                           check=True)
            created.insert(0, ("userdel", account))
        import pwd

        os.chmod(base, 0o755)
        os.chown(base, pwd.getpwnam(teacher).pw_uid, -1)
        homes = {}
        for account in (teacher, ana, ben):
            homes[account] = base / f"home-{account}"
            homes[account].mkdir(mode=0o700)
            os.chown(homes[account], pwd.getpwnam(account).pw_uid, -1)
        folder = base / "exchange"

        def env(account):
            return {"LORA_TUTORIAL_PROGRESS": str(homes[account] / "progress.json"),
                    EXCHANGE_ENV: str(folder), "JUPYTERHUB_USER": account}

        def init_with(name):
            try:
                return str(init_exchange(folder, group=name))
            except QuizError as err:
                return str(err)

        assert f"also holds {ana}" in _run_as(teacher, lambda: init_with(ana), env(teacher))
        assert "is not in group" in _run_as(teacher, lambda: init_with(empty), env(teacher))
        assert not folder.exists()  # refused: nothing made
        made = _run_as(teacher, lambda: init_with(group), env(teacher))
        assert made == str(folder)
        info = folder.stat()
        assert stat.S_IMODE(info.st_mode) == 0o3733
        assert pwd.getpwuid(info.st_uid).pw_name == teacher

        def answer_and_submit(right):
            record_answer("final", "T", "final-init", right, ["x"])
            return str(submit())

        # Ben squats on Ana's name before she submits: her submit refuses, names the fix.
        squat = _run_as(ben, lambda: _attempt(lambda: (folder / f"{ana}.json").write_text("{")),
                        env(ben))
        assert squat == "ok"
        refused = _run_as(ana, lambda: answer_and_submit(False), env(ana))
        assert refused[0] == "error" and "belongs to another account" in refused[2]
        assert _run_as(teacher, lambda: _attempt((folder / f"{ana}.json").unlink),
                       env(teacher)) == "ok"  # the instructor removes it

        assert _run_as(ana, lambda: answer_and_submit(False), env(ana)) == f"{folder}/{ana}.json"
        assert _run_as(ben, lambda: answer_and_submit(True), env(ben)) == f"{folder}/{ben}.json"
        target = folder / f"{ana}.json"
        assert stat.S_IMODE(target.stat().st_mode) == 0o640
        assert target.stat().st_gid == info.st_gid  # the instructors' group, by set-group-ID

        def ben_tries_everything():
            scratch = folder / f".{ben}.scratch"
            scratch.write_text("{}")
            results = {
                "read": _attempt(target.read_bytes),
                "list": _attempt(lambda: os.listdir(folder)),
                "overwrite": _attempt(lambda: target.write_text("{}")),
                "replace": _attempt(lambda: os.replace(scratch, target)),
                "remove": _attempt(target.unlink),
                "chmod": _attempt(lambda: os.chmod(target, 0o666)),
            }
            scratch.unlink()
            try:
                submit(name=ana)
            except QuizError as err:
                results["submit as ana"] = str(err)
            planted = {"format": "lora_tutorial.answers", "version": 2, "learner": "carl",
                       "quizzes": {}}
            (folder / f"{tag}carl.json").write_text(json.dumps(planted))  # a name not his
            return results

        tries = _run_as(ben, ben_tries_everything, env(ben))
        assert {k: v for k, v in tries.items() if k != "submit as ana"} == {
            "read": "PermissionError", "list": "PermissionError",
            "overwrite": "PermissionError", "replace": "PermissionError",
            "remove": "PermissionError", "chmod": "PermissionError"}
        assert f"cannot submit as '{ana}'" in tries["submit as ana"]
        assert json.loads(target.read_text())["quizzes"]["final"]["questions"]["final-init"][
            "first_try_correct"] is False  # Ana's answers, untouched

        # Ana resubmits: her own file is replaced, still hers and private.
        assert _run_as(ana, lambda: answer_and_submit(True), env(ana)) == str(target)
        assert pwd.getpwuid(target.stat().st_uid).pw_name == ana
        assert stat.S_IMODE(target.stat().st_mode) == 0o640

        # The instructor (not root: a member of the group) reads every submission.
        def report():
            summary = class_summary(folder)
            return summary.learners, summary.skipped, item_analysis(folder).learners

        learners, skipped, analysed = _run_as(teacher, report, env(teacher))
        assert learners == analysed == [ana, ben]
        assert any(f"{tag}carl.json: owned by the account {ben}" in item for item in skipped)

        # A folder learners cannot write into: the message says so and names the variable.
        closed = base / "closed"
        def make_closed():
            closed.mkdir()
            os.chmod(closed, 0o3700)

        _run_as(teacher, make_closed, env(teacher))
        shut = _run_as(ana, lambda: answer_and_submit(True),
                       {**env(ana), EXCHANGE_ENV: str(closed)})
        assert shut[0] == "error" and "is not writable by your account" in shut[2]
        assert EXCHANGE_ENV in shut[2]

        # An exchange whose group holds learners: they could read each other's; refused.
        import grp

        leaky = base / "leaky"
        leaky.mkdir()
        os.chown(leaky, pwd.getpwnam(teacher).pw_uid, grp.getgrnam(ana).gr_gid)
        os.chmod(leaky, 0o3733)
        leak = _run_as(ana, lambda: answer_and_submit(True), {**env(ana), EXCHANGE_ENV: str(leaky)})
        assert leak[0] == "error" and "your account is in it" in leak[2]
        assert os.listdir(leaky) == []
    finally:
        for tool, name in created:
            subprocess.run([tool, name], check=False, capture_output=True)
        subprocess.run(["rm", "-rf", "--", str(base)], check=False)
