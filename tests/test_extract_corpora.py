"""tools/extract_corpora.py: the committed corpora are what it extracts (on the Python that
made them), and it writes only into the folder it is given."""

import platform

import pytest

from refusal import unchanged
from tools import extract_corpora

COMMITTED = extract_corpora.OUT
FILES = ["LICENSE-PSF.txt", "code_train.txt", "code_validation.txt", "docs_train.txt",
         "docs_validation.txt"]


@pytest.mark.skipif(platform.python_version() != "3.11.7",
                    reason="the corpora were extracted with CPython 3.11.7; other versions "
                           "ship other topics and module sources")
def test_extracting_again_reproduces_the_committed_corpora(tmp_path):
    with unchanged(COMMITTED):
        assert extract_corpora.main(["--out", str(tmp_path / "corpora")]) == 0
    written = sorted(p.name for p in (tmp_path / "corpora").iterdir())
    assert written == FILES
    for name in FILES:
        assert (tmp_path / "corpora" / name).read_bytes() == (COMMITTED / name).read_bytes(), name


def test_an_out_that_is_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "a_file").write_text("x")
    with unchanged(tmp_path):
        assert extract_corpora.main(["--out", str(tmp_path / "a_file")]) == 1
    assert capsys.readouterr().err == (f"python -m tools.extract_corpora: error: --out "
                                       f"{tmp_path / 'a_file'} is a file, not a folder; "
                                       "choose a folder.\n")
