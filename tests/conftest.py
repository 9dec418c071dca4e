"""Fixtures shared by the package's tests."""

import pytest


@pytest.fixture
def private_progress(monkeypatch, tmp_path):
    """A fresh quiz-progress file for one test, so tests never share recorded answers."""
    path = tmp_path / "progress.json"
    monkeypatch.setenv("LORA_TUTORIAL_PROGRESS", str(path))
    return path
