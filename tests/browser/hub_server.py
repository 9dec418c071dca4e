"""A throw-away workshop hub for tests/browser/test_workshop_hub.py: accounts, environment, hub.

Three pieces, each undone by its ``cleanup`` even when a test fails:

* :class:`LocalAccounts` makes real Unix accounts and groups (``groupadd``, ``useradd``,
  ``chpasswd``; root only) with names no one else uses (a random prefix), and removes them
  again, ending first every process that runs as one of them (by process id).
* :class:`LearnerEnvironment` gives those accounts a Python they can run. The learners'
  servers start as the learners, so they need read and search permission on every folder
  from ``/`` down to the interpreter, the packages and the course's source; a checkout
  under ``/root`` or a Python installed there (pyenv) is out of their reach. So the test
  always works on a linked copy (hard links, no second copy of the bytes; a plain copy if
  the temporary folder is on another file system) of this Python, its virtual environment
  and the package's source, in a temporary folder everyone can read.
* :class:`Hub` runs ``python -m jupyterhub`` with ``hub_test_config.py`` (the instructor
  guide's ``docs/hub/jupyterhub_config.py`` plus the test's overrides) in a process group
  of its own, and stops it, the proxy and every server and kernel it started by their
  process ids.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
from lab_server import stop_group

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
HUB_CONFIG = REPO / "docs" / "hub" / "jupyterhub_config.py"
TEST_CONFIG = HERE / "hub_test_config.py"
LOOPBACK = ("127.0.0.1", "::1")


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run a command; on failure raise with its output (never a silent half-set-up)."""
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}): "
                           f"{result.stdout}{result.stderr}")
    return result


def link_copy(source: Path, target: Path) -> None:
    """``target`` becomes a copy of the tree ``source``: hard links where the file system
    allows them (instant, no space), else real copies. Symbolic links are kept as links."""
    try:
        run(["cp", "-al", str(source), str(target)])
    except RuntimeError:
        shutil.rmtree(target, ignore_errors=True)
        run(["cp", "-a", str(source), str(target)])


def replace_file(path: Path, text: str) -> None:
    """Write a new file at ``path``: a hard-linked file is unlinked first, so the original
    it shares its bytes with is never changed."""
    path.unlink(missing_ok=True)
    path.write_text(text, encoding="utf-8")


class LearnerEnvironment:
    """This Python, its virtual environment and the course's source, readable by everyone."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir()
        version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
        base, prefix = Path(sys.base_prefix), Path(sys.prefix)
        self.base = root / "python"
        link_copy(base, self.base)
        in_venv = prefix != base
        if in_venv:  # a virtual environment brings its own packages: leave the base's out
            shutil.rmtree(self.base / "lib" / version / "site-packages", ignore_errors=True)
        shutil.rmtree(self.base / "lib" / version / "test", ignore_errors=True)
        if in_venv:
            self.prefix = root / "venv"
            link_copy(prefix, self.prefix)
            self._repoint_venv(version)
        else:
            self.prefix = self.base
        self.python = self.prefix / "bin" / "python3"
        # The package as this test imports it (the checkout, on PYTHONPATH or installed
        # editable), the quiz bank beside it, and pyproject.toml, by which the package
        # knows it runs from a checkout (so its bank is quizzes/).
        import lora_tutorial

        checkout = Path(lora_tutorial.__file__).resolve().parents[1]
        self.source = root / "course"
        self.source.mkdir()
        for name in ("lora_tutorial", "quizzes", "pyproject.toml"):
            if (checkout / name).exists():
                link_copy(checkout / name, self.source / name)
        # Folders are new (files are links): open them to everyone. Files keep their modes;
        # chmod on a hard link would change the original too.
        run(["find", str(root), "-type", "d", "-exec", "chmod", "a+rx", "{}", "+"])

    def _repoint_venv(self, version: str) -> None:
        """The copied venv must use the copied base: its ``python`` links and pyvenv.cfg."""
        bin_dir = self.prefix / "bin"
        for name in ("python", "python3", version):
            link = bin_dir / name
            if link.is_symlink() or link.exists():
                link.unlink()
        (bin_dir / version).symlink_to(self.base / "bin" / version)
        (bin_dir / "python3").symlink_to(version)
        (bin_dir / "python").symlink_to(version)
        config = self.prefix / "pyvenv.cfg"
        lines = [line for line in config.read_text(encoding="utf-8").splitlines()
                 if not line.startswith(("home", "executable", "command"))]
        replace_file(config, "\n".join([f"home = {self.base / 'bin'}", *lines]) + "\n")

    def environ(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """An environment in which ``self.python`` runs and imports the course."""
        env = dict(os.environ if base is None else base)
        for name in ("PYTHONHOME", "VIRTUAL_ENV", "LORA_TUTORIAL_PROGRESS", "JUPYTER_PATH",
                     "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR"):
            env.pop(name, None)
        env["PYTHONPATH"] = str(self.source)
        libraries = [str(self.base / "lib")]
        if env.get("LD_LIBRARY_PATH"):
            libraries.append(env["LD_LIBRARY_PATH"])
        env["LD_LIBRARY_PATH"] = os.pathsep.join(libraries)
        env["PATH"] = os.pathsep.join([str(self.prefix / "bin"), "/usr/local/bin", "/usr/bin",
                                       "/bin"])
        return env


class LocalAccounts:
    """Unix groups and accounts for one test run, removed by :meth:`cleanup`."""

    def __init__(self):
        self.prefix = "lt" + secrets.token_hex(2)  # e.g. lt3fa1-alice: unused elsewhere
        self.groups: list[str] = []
        self.users: dict[str, str] = {}  # name -> password

    def name(self, role: str) -> str:
        return f"{self.prefix}-{role}"

    def add_group(self, role: str) -> str:
        group = self.name(role)
        run(["groupadd", group])
        self.groups.append(group)
        return group

    def add_user(self, role: str, group: str) -> str:
        user = self.name(role)
        run(["useradd", "--create-home", "--shell", "/bin/bash", "--groups", group, user])
        self.users[user] = secrets.token_urlsafe(12)
        run(["chpasswd"], input=f"{user}:{self.users[user]}\n")
        return user

    def home(self, user: str) -> Path:
        import pwd

        return Path(pwd.getpwnam(user).pw_dir)

    def run_as(self, user: str, command: list[str], env: dict[str, str], **kwargs):
        """``command`` as ``user`` (runuser), in their home, with ``env``."""
        env = dict(env, HOME=str(self.home(user)), USER=user, LOGNAME=user)
        return subprocess.run([shutil.which("runuser") or "/usr/sbin/runuser", "-u", user, "--", *command], env=env,
                              cwd=self.home(user), capture_output=True, text=True, **kwargs)

    def uids(self) -> set[int]:
        import pwd

        found = set()
        for user in self.users:
            try:
                found.add(pwd.getpwnam(user).pw_uid)
            except KeyError:
                pass
        return found

    def end_their_processes(self) -> None:
        """SIGKILL, by process id, every process running as one of these accounts."""
        uids = self.uids()
        for process in psutil.process_iter(["uids"]):
            try:
                if process.info["uids"] and process.info["uids"].real in uids:
                    process.kill()
            except psutil.Error:
                pass

    def cleanup(self) -> None:
        self.end_their_processes()
        for user in list(self.users):
            subprocess.run(["userdel", "--remove", "--force", user], capture_output=True)
            del self.users[user]
        for group in self.groups:
            subprocess.run(["groupdel", group], capture_output=True)
        self.groups = []


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Hub:
    """``python -m jupyterhub -f hub_test_config.py`` on 127.0.0.1, in ``state`` (its
    database, cookie secret and proxy pid file)."""

    def __init__(self, environment: LearnerEnvironment, state: Path, settings: dict,
                 startup_timeout: float = 180.0):
        self.environment = environment
        self.state = state
        self.settings = dict(settings, config=str(HUB_CONFIG), port=free_port(),
                             hub_port=free_port(), proxy_api_port=free_port())
        self.log_path = state / "jupyterhub.log"
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen | None = None
        self._started: dict[int, psutil.Process] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings['port']}"

    def start(self) -> "Hub":
        env = self.environment.environ()
        env["LORA_HUB_TEST"] = json.dumps(self.settings)
        command = [str(self.environment.python), "-m", "jupyterhub", "-f", str(TEST_CONFIG)]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, cwd=self.state, env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyterhub exited with code {self.process.returncode}:\n"
                                   + self.log_tail())
            try:
                with urllib.request.urlopen(f"{self.url}/hub/api/", timeout=5) as response:
                    if response.status == 200:
                        self.remember_processes()
                        return self
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.5)
        raise RuntimeError(f"jupyterhub did not answer within {self.startup_timeout:.0f} s:\n"
                           + self.log_tail())

    def processes(self) -> list[psutil.Process]:
        """The hub and everything it started (proxy, culler, servers, their kernels)."""
        if self.process is None:
            return []
        try:
            hub = psutil.Process(self.process.pid)
            return [hub, *hub.children(recursive=True)]
        except psutil.Error:
            return []

    def remember_processes(self) -> None:
        self._started.update((process.pid, process) for process in self.processes())

    def listening_sockets(self) -> list[tuple[int, str, str, int]]:
        """(pid, program, address, port) of every socket the hub's processes listen on."""
        pids = {process.pid: process for process in self.processes()}
        found = []
        for connection in psutil.net_connections(kind="inet"):
            if connection.status == psutil.CONN_LISTEN and connection.pid in pids:
                try:
                    program = " ".join(pids[connection.pid].cmdline()[:3])
                except psutil.Error:
                    program = "?"
                found.append((connection.pid, program, connection.laddr.ip,
                              connection.laddr.port))
        return found

    def stop(self) -> None:
        """Stop the hub (it stops the servers and the proxy), then SIGKILL, by process id,
        whatever it started that is still there. Idempotent."""
        self.remember_processes()
        process, self.process = self.process, None
        if process is None:
            return
        stop_group(process, grace=60)
        for started in self._started.values():  # psutil refuses a pid reused since
            try:
                started.kill()
            except psutil.Error:
                pass

    def log_tail(self, chars: int = 6000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return "(no log)"


def make_course_repository(folder: Path, branch: str = "workshop") -> Path:
    """A bare clone of this checkout's HEAD, with HEAD on ``branch``: the repository the
    nbgitpuller link points at (by file:// URL: no network)."""
    head = run(["git", "-C", str(REPO), "rev-parse", "HEAD"]).stdout.strip()
    run(["git", "clone", "--quiet", "--bare", "--no-local", str(REPO), str(folder)])
    run(["git", "-C", str(folder), "update-ref", f"refs/heads/{branch}", head])
    run(["git", "-C", str(folder), "symbolic-ref", "HEAD", f"refs/heads/{branch}"])
    return folder
