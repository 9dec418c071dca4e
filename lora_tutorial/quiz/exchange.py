"""Hand in quiz answers on a shared machine (a JupyterHub): one exchange folder, private files.

The instructor makes one folder that every learner can write into but no learner can list
or read, the way nbgrader's exchange works, using only the file system's own permissions::

    sudo install -d -o INSTRUCTOR -g INSTRUCTORS -m 3733 /srv/lora_exchange

(or ``python -m lora_tutorial.quiz exchange-init /srv/lora_exchange --group INSTRUCTORS``
as the instructor, which also checks the group). Mode ``3733`` means, bit by bit:

* ``0700`` the instructor (the owner) lists, reads and writes the folder;
* ``0033`` everyone else may create a file in it (write and search) but not list it (no
  read): a learner cannot find out what the others handed in, except by guessing a name;
* ``1000`` the sticky bit: a file in the folder can be removed or replaced only by its owner
  (or the folder's owner), so no learner can delete or overwrite another's submission;
* ``2000`` set-group-ID: every file created in the folder belongs to the folder's group,
  ``INSTRUCTORS``, whoever creates it.

:func:`submit` writes the learner's answers (what
:func:`~lora_tutorial.quiz.progress.export_answers` writes) as ``NAME.json`` with mode
``0640``: the learner reads and writes it, the instructors' group reads it, nobody else can.
So the instructors' group must hold instructors only (``groupadd lora-instructors``), never
a group every account is in (``users``); ``exchange-init`` refuses such a group.

The write is atomic (:mod:`lora_tutorial.common.files`): a temporary file beside the target
is moved over it with ``os.replace``. In a sticky folder that move succeeds only onto one's
own file, which is what makes resubmitting replace one's own answers and nobody else's. Two
learners submitting at once write two different files, and a half-written file is never
seen. The name is the hub user (``JUPYTERHUB_USER``), else the ``name`` given, else the
account's name. A file's *owner* cannot be forged, so the instructor's report
(:func:`~lora_tutorial.quiz.classroom.class_summary`) accepts ``NAME.json`` from an exchange
only when the account that owns it is ``NAME`` (or ``jupyter-NAME``, the account names of
The Littlest JupyterHub and of SystemdSpawner) or the instructor; anything else (a file
planted under someone else's name, a link, a pipe) is skipped and listed.

The folder comes from the ``folder`` argument, else from the environment variable
``LORA_TUTORIAL_EXCHANGE`` that the hub sets for every learner. Each way it can be wrong
(unset, missing, a file, not writable, listable by others) is refused with a message that
names ``LORA_TUTORIAL_EXCHANGE`` and the fix, before anything is written. This is POSIX only:
Windows has neither the sticky bit nor these modes, and a workshop hub runs Linux.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

try:  # POSIX: account and group names
    import grp
    import pwd
except ImportError:  # pragma: no cover - Windows has no exchange (no sticky bit): never used
    grp = pwd = None

from ..common.files import write_file
from .model import QuizError
from .progress import VERSION, _json_text, load_progress
from .safe_text import printable

#: The environment variable that names the class exchange folder (the hub sets it).
EXCHANGE_ENV = "LORA_TUTORIAL_EXCHANGE"
#: The mode of the exchange folder: sticky + set-group-ID, owner rwx, others write+search.
EXCHANGE_MODE = 0o3733
#: The mode of a submission: the learner reads and writes, the instructors' group reads.
SUBMISSION_MODE = 0o640
#: The prefix with which The Littlest JupyterHub and SystemdSpawner name hub users' accounts.
HUB_ACCOUNT_PREFIX = "jupyter-"

# A submission's name: a file name on every system, never hidden, never a path.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}")


def install_line(folder: str | os.PathLike = "/srv/lora_exchange") -> str:
    """The command an administrator runs to create the exchange folder ``folder``."""
    return f"sudo install -d -o INSTRUCTOR -g INSTRUCTORS -m {EXCHANGE_MODE:o} {folder}"


def exchange_folder(folder: str | os.PathLike | None = None) -> Path:
    """The exchange folder (``folder``, else ``$LORA_TUTORIAL_EXCHANGE``), checked for
    submitting: it exists, is a folder this account can write into, and keeps
    submissions private (sticky, set-group-ID, not listable by others). QuizError if not."""
    given = folder if folder is not None else os.environ.get(EXCHANGE_ENV)
    if not given:
        raise QuizError(f"No exchange folder: {EXCHANGE_ENV} is not set. Set it to the folder "
                        "your instructor gave (the hub sets it for you), e.g. "
                        f"export {EXCHANGE_ENV}=/srv/lora_exchange, or give the folder "
                        "(--exchange FOLDER, or folder=).")
    path = Path(given).expanduser()
    where = f"The exchange folder {printable(str(path))} (from {EXCHANGE_ENV} or --exchange)"
    try:
        info = path.stat()
    except OSError as err:
        raise QuizError(f"{where} cannot be used: {err.strerror or err}. Ask your instructor "
                        f"to create it ({install_line(path)}), or set {EXCHANGE_ENV} to the "
                        "folder they gave.") from None
    if not stat.S_ISDIR(info.st_mode):
        raise QuizError(f"{where} is not a folder. Set {EXCHANGE_ENV} to the exchange folder "
                        "your instructor gave.")
    mode = stat.S_IMODE(info.st_mode)
    if not (mode & stat.S_ISVTX and mode & stat.S_ISGID) or mode & stat.S_IROTH:
        raise QuizError(f"{where} has mode {mode:o}, so other learners could list, read or "
                        "replace submissions; nothing was written. Your instructor fixes it "
                        f"with: chmod {EXCHANGE_MODE:o} {printable(str(path))} (or "
                        f"{install_line(path)}).")
    if not os.access(path, os.W_OK | os.X_OK):
        raise QuizError(f"{where} is not writable by your account ({_account()}). Ask your "
                        f"instructor to make it with {install_line(path)}, or set "
                        f"{EXCHANGE_ENV} to the right folder.")
    if info.st_uid != os.getuid() and info.st_gid in _my_groups():
        group = _group_name(info.st_gid)
        raise QuizError(f"{where} belongs to group {group}, and your account is in it, so "
                        "every learner in it could read all submissions; nothing was written. "
                        f"Your instructor fixes it with a group of instructors only: "
                        f"chgrp INSTRUCTORS {printable(str(path))}.")
    return path


def submission_name(name: str | None = None) -> str:
    """Whose submission this is: ``name``, else ``$JUPYTERHUB_USER``, else the account name.
    QuizError if it cannot be a file name (a slash, a leading dot, spaces)."""
    chosen = name if name is not None else os.environ.get("JUPYTERHUB_USER") or _account()
    if not isinstance(chosen, str) or not _NAME.fullmatch(chosen):
        raise QuizError(f"{printable(repr(chosen))} cannot name a submission: use letters, "
                        "digits and . _ @ + - (at most 100, not starting with . or -), e.g. "
                        "name='alice'.")
    return chosen


def submit(name: str | None = None, folder: str | os.PathLike | None = None) -> Path:
    """Hand your recorded quiz answers to your instructor: write them into the class exchange
    folder as ``NAME.json`` (replacing your earlier submission). Returns the path written.

    ``name`` defaults to your hub user name (``JUPYTERHUB_USER``), else your account name;
    ``folder`` to ``$LORA_TUTORIAL_EXCHANGE``. Only you and your instructor can read the
    file. Raises :class:`QuizError`, writing nothing, when the folder is not a usable
    exchange or the name is taken by another account.
    """
    directory = exchange_folder(folder)
    learner = submission_name(name)
    owner = directory.stat().st_uid
    if os.getuid() not in (owner, 0) and not account_may_submit_as(_account(), learner):
        raise QuizError(f"Your account {_account()} cannot submit as {printable(learner)!r}: "
                        "the instructor's report accepts a submission only from the account "
                        "it names. Leave name= out to submit under your own name.")
    text = _json_text({"format": "lora_tutorial.answers", "version": VERSION,
                       "learner": learner, "quizzes": load_progress()})

    def write(scratch: Path) -> None:
        scratch.write_text(text, encoding="utf-8")
        os.chmod(scratch, SUBMISSION_MODE)

    target = directory / f"{learner}.json"
    try:
        write_file(target, write)
    except PermissionError:
        raise QuizError(f"{printable(target.name)} in the exchange folder belongs to another "
                        "account, so it cannot be replaced; nothing was written. Ask your "
                        "instructor to remove it, then submit again.") from None
    except OSError as err:
        raise QuizError(f"Cannot write {printable(str(target))}: {err.strerror or err}.") from None
    return target


def account_may_submit_as(account: str, name: str) -> bool:
    """May the account ``account`` hand in a submission called ``name``? Its own name, or
    the name the hub gives it (``jupyter-alice`` submits as ``alice``)."""
    return account in (name, HUB_ACCOUNT_PREFIX + name)


def is_exchange(folder: str | os.PathLike) -> bool:
    """Is ``folder`` a shared exchange (sticky bit set), where file owners must be checked?"""
    try:
        return bool(Path(folder).stat().st_mode & stat.S_ISVTX)
    except OSError:
        return False


def submission_problem(path: Path) -> str | None:
    """Why the file ``path`` in an exchange folder is not a trustworthy submission, or None.

    The file must be a regular file (not a link, not a pipe) owned by the account its name
    names (see :func:`account_may_submit_as`) or by the folder's owner, the instructor."""
    try:
        info = path.lstat()
        folder_owner = path.parent.stat().st_uid
    except OSError as err:
        return f"cannot be read ({err.strerror or err})"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file (a link, a folder or a pipe)"
    if info.st_uid == folder_owner:
        return None
    account = _account(info.st_uid)
    if account_may_submit_as(account, path.stem):
        return None
    return (f"owned by the account {account}, not by {path.stem}: someone submitted under "
            "another's name; remove it")


def init_exchange(folder: str | os.PathLike, group: str | None = None) -> Path:
    """Create the exchange folder ``folder`` with mode 3733, in group ``group`` (default:
    your primary group), owned by you, the instructor. Returns its path.

    Refuses (QuizError, nothing created) a group that other accounts are in or have as
    their primary group, since they could read every submission; a group you are not in,
    since you could not; and a path that exists."""
    path = Path(folder).expanduser()
    try:
        gid = grp.getgrnam(group).gr_gid if group is not None else os.getgid()
    except KeyError:
        raise QuizError(f"No group {printable(group)!r}. Create one for instructors only "
                        f"(sudo groupadd lora-instructors; sudo usermod -aG lora-instructors "
                        f"{_account()}), then pass --group lora-instructors.") from None
    others = group_readers(gid) - {_account()}
    if others:
        raise QuizError(f"Group {_group_name(gid)} also holds {', '.join(sorted(others))}: they "
                        "could read every submission. Create a group for instructors only "
                        "(sudo groupadd lora-instructors) and pass --group lora-instructors.")
    if os.getuid() != 0 and gid not in _my_groups():
        raise QuizError(f"Your account {_account()} is not in group {_group_name(gid)}, so it "
                        "could not read the submissions: sudo usermod -aG "
                        f"{_group_name(gid)} {_account()}, log in again, then rerun this.")
    if path.exists() or path.is_symlink():
        raise QuizError(f"{printable(str(path))} already exists; give a new folder (or fix "
                        f"the existing one with: chmod {EXCHANGE_MODE:o} and chgrp).")
    try:
        path.mkdir()
    except OSError as err:
        raise QuizError(f"Cannot create the exchange folder {printable(str(path))}: "
                        f"{err.strerror or err}.") from None
    try:
        os.chown(path, -1, gid)
        os.chmod(path, EXCHANGE_MODE)  # after mkdir: the umask would clear bits of mkdir's mode
    except OSError as err:
        path.rmdir()  # all or nothing: no half-made exchange is left behind
        raise QuizError(f"Cannot set up the exchange folder {printable(str(path))}: "
                        f"{err.strerror or err}.") from None
    return path


def group_readers(gid: int) -> set[str]:
    """Every account in the group ``gid``: its members and those whose primary group it is."""
    members = set(grp.getgrgid(gid).gr_mem)
    return members | {user.pw_name for user in pwd.getpwall() if user.pw_gid == gid}


def _account(uid: int | None = None) -> str:
    """The name of the account ``uid`` (default: this process's), or the number if unnamed.
    (Not ``getpass.getuser()``: it believes the ``USER`` variable, which anyone can set.)"""
    uid = os.getuid() if uid is None else uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _my_groups() -> set[int]:
    return {os.getgid(), *os.getgroups()}
