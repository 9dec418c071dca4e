"""The text corpora that ship with the course, and the windows a language model learns from."""

import pytest
import torch

from lora_tutorial.course.text import (
    CORPORA_DIR,
    DOMAINS,
    SPLITS,
    load_corpus,
    random_windows,
    validation_windows,
)


@pytest.mark.parametrize("domain", DOMAINS)
@pytest.mark.parametrize("split", SPLITS)
def test_corpora_are_fixed_utf8_files_of_reasonable_size(domain, split):
    tokens = load_corpus(domain, split)
    assert tokens.dtype == torch.int64 and 0 <= int(tokens.min()) and int(tokens.max()) < 256
    size = len(tokens)
    assert 20_000 < size < 600_000
    assert bytes(tokens.tolist()).decode("utf-8")   # valid UTF-8 throughout


def test_total_size_stays_small_and_licence_sits_beside_the_data():
    total = sum((CORPORA_DIR / f"{d}_{s}.txt").stat().st_size for d in DOMAINS for s in SPLITS)
    assert total < 1_200_000
    licence = (CORPORA_DIR / "LICENSE-PSF.txt").read_text()
    assert "PYTHON SOFTWARE FOUNDATION LICENSE VERSION 2" in licence


def test_domains_differ_the_way_the_course_says():
    docs = bytes(load_corpus("docs").tolist()).decode()
    code = bytes(load_corpus("code").tolist()).decode()
    assert docs.count("def ") / len(docs) < code.count("def ") / len(code) / 3
    assert code.count("self.") > 10 * docs.count("self.")


def test_validation_is_held_out_text():
    docs_train = bytes(load_corpus("docs").tolist()).decode()
    docs_val = bytes(load_corpus("docs", "validation").tolist()).decode()
    # Whole help topics are held out: their first lines (the titles) never occur in training.
    for paragraph in docs_val.split("\n\n")[:20]:
        if len(paragraph) > 200:
            assert paragraph not in docs_train
    code_val = bytes(load_corpus("code", "validation").tolist()).decode()
    assert "class TextWrapper" in code_val and "class TextWrapper" not in bytes(
        load_corpus("code").tolist()).decode()


def test_unknown_domain_or_split_is_refused():
    with pytest.raises(ValueError, match="docs"):
        load_corpus("poetry")
    with pytest.raises(ValueError, match="validation"):
        load_corpus("docs", "test")


def test_random_windows_are_slices_of_the_text_and_follow_the_generator():
    tokens = torch.arange(1000)
    a = random_windows(tokens, 8, 16, torch.Generator().manual_seed(0))
    b = random_windows(tokens, 8, 16, torch.Generator().manual_seed(0))
    assert a.shape == (8, 17) and torch.equal(a, b)
    assert torch.equal(a - a[:, :1], torch.arange(17).expand(8, 17))   # consecutive bytes
    assert int(a.max()) < 1000


def test_random_windows_reach_the_last_byte():
    tokens = torch.arange(20)
    windows = random_windows(tokens, 500, 16, torch.Generator().manual_seed(0))
    assert int(windows[:, -1].max()) == 19 and int(windows[:, 0].min()) == 0


def test_validation_windows_predict_every_byte_once():
    tokens = torch.arange(101)
    windows = validation_windows(tokens, 10)
    assert windows.shape == (10, 11)
    targets = windows[:, 1:].reshape(-1)
    assert torch.equal(targets, torch.arange(1, 101))


def test_validation_windows_subset_is_spread_evenly():
    tokens = torch.arange(1001)
    windows = validation_windows(tokens, 10, count=5)
    assert windows[:, 0].tolist() == [0, 250, 500, 740, 990]
    with pytest.raises(ValueError, match="count"):
        validation_windows(tokens, 10, count=101)


def test_window_length_is_checked():
    with pytest.raises(ValueError, match="length"):
        random_windows(torch.arange(10), 2, 10, torch.Generator())
    with pytest.raises(ValueError, match="1-D"):
        validation_windows(torch.zeros(2, 50, dtype=torch.int64), 4)
