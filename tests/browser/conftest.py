"""The browser tier: opt-in, so that the main ``pytest`` run needs no browser.

Every test in this folder is marked ``browser`` and skipped unless the environment
variable ``LORA_BROWSER_TESTS`` is set:

* ``LORA_BROWSER_TESTS=1``: run; if Chromium or Playwright is missing, skip with a message
  saying how to install them;
* ``LORA_BROWSER_TESTS=require`` (what ``.ci/run`` uses): run, and fail instead of
  skipping when either is missing.

Run it (see README, "Browser tests")::

    LORA_BROWSER_TESTS=1 .venv/bin/python -m pytest tests/browser -o addopts="" -v

Other knobs: ``LORA_BROWSER_CHROMIUM`` (the browser executable, default: ``chromium`` on the
PATH), ``LORA_BROWSER_NOTEBOOKS`` (a folder of notebooks to test instead of ``notebooks/``,
e.g. a learner copy), ``LORA_BROWSER_ARTIFACTS`` (the screenshot folder, default
``test-artifacts/browser``), ``LORA_BROWSER_TIMEOUT`` (seconds a notebook may take to run,
default 900).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
OPT_IN = "LORA_BROWSER_TESTS"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
INSTALL_HELP = (
    "The browser tier needs Debian's Chromium and Playwright for Python (no browser "
    "download): `sudo apt-get install chromium` and "
    "`.venv/bin/pip install -r requirements-browser.txt`."
)


def _mode() -> str:
    value = os.environ.get(OPT_IN, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return "off"
    return "require" if value == "require" else "on"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "browser: drives JupyterLab in headless Chromium (opt-in: "
        f"{OPT_IN}=1; see tests/browser/conftest.py)")


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(
        reason=f"browser tier is opt-in: {OPT_IN}=1 .venv/bin/python -m pytest tests/browser "
               '-o addopts="" (README, "Browser tests")')
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.browser)
            if _mode() == "off":
                item.add_marker(skip)


def _missing(message: str):
    """Skip the tier, or fail it when the run insists on it (LORA_BROWSER_TESTS=require)."""
    if _mode() == "require":
        pytest.fail(f"{message}\n{INSTALL_HELP}", pytrace=False)
    pytest.skip(f"{message} {INSTALL_HELP}")


@pytest.fixture(scope="session")
def missing():
    """The tier's way to give up on a missing prerequisite: skip, or fail under
    ``LORA_BROWSER_TESTS=require`` (for tests outside this file, e.g. test_workshop_hub.py)."""
    return _missing


def chromium_path() -> str | None:
    configured = os.environ.get("LORA_BROWSER_CHROMIUM")
    if configured:
        return shutil.which(configured) or (configured if os.path.isfile(configured) else None)
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.path.isfile("/usr/bin/chromium") else None


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    folder = Path(os.environ.get("LORA_BROWSER_ARTIFACTS", REPO / "test-artifacts" / "browser"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder.resolve()


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session, driven by Playwright."""
    executable = chromium_path()
    if executable is None:
        _missing("Chromium is not installed (no `chromium` on the PATH).")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright for Python is not installed.")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=executable, headless=True,
                                             args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@pytest.fixture(scope="session")
def lab_server(browser):  # needs the browser first: no server start when the tier skips
    """One JupyterLab server for the whole session, serving a temporary copy of notebooks/."""
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        _missing("JupyterLab is not installed in this environment "
                 "(`.venv/bin/pip install -r requirements.txt`).")
    from lab_server import LabServer, notebooks_dir

    server = LabServer(notebooks_dir())
    try:
        server.start()
        server.check_kernel_is_this_python()
        yield server
    finally:
        server.cleanup()  # stops it by its process id, even when a test failed


def pytest_terminal_summary(terminalreporter):
    if _mode() == "off":
        return
    folder = Path(os.environ.get("LORA_BROWSER_ARTIFACTS", REPO / "test-artifacts" / "browser"))
    if folder.is_dir() and any(folder.glob("*.png")):
        terminalreporter.write_sep("-", "browser tier")
        terminalreporter.write_line(f"screenshots of every notebook: {folder.resolve()}")
