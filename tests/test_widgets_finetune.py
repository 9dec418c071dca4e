"""The fine-tuning explorer of notebook 5 (lora_tutorial.course.widgets.finetune)."""

import pytest

from lora_tutorial.course.widgets.finetune import FinetuneExplorer, RunResult, describe, smooth


def fake_run(final_loss: float, accuracy: float, trainable: int) -> RunResult:
    losses = [2.0 * (final_loss / 2.0) ** (step / 49) for step in range(50)]
    return RunResult(losses, accuracy, trainable, 152_202 + trainable)


@pytest.fixture
def explorer():
    results = {("q_proj, v_proj", 1): fake_run(0.5, 0.88, 768),
               ("q_proj, v_proj", 8): fake_run(0.05, 0.92, 6_144),
               ("q_proj, v_proj", 16): fake_run(0.04, 0.94, 12_288),
               ("o_proj", 8): fake_run(0.1, 0.93, 3_072)}
    references = {"full fine-tuning": RunResult(fake_run(0.003, 0.97, 0).losses, 0.97,
                                                152_202, 152_202)}
    return FinetuneExplorer(results, references, targets="q_proj, v_proj", r=1)


def test_explorer_starts_where_asked(explorer):
    assert explorer.rank.options == (1, 8, 16) and explorer.rank.value == 1
    assert "r = 1</b>: 768 trainable parameters" in explorer.label.value
    assert "88.0%" in explorer.label.value and "full fine-tuning: 97.0%" in explorer.label.value
    assert bytes(explorer.image.value).startswith(b"\x89PNG")


def test_explorer_follows_the_rank_control(explorer):
    label, image = explorer.label.value, bytes(explorer.image.value)
    explorer.rank.value = 16
    assert explorer.label.value != label and bytes(explorer.image.value) != image
    assert "12,288 trainable parameters" in explorer.label.value and "94.0%" in explorer.label.value


def test_explorer_offers_only_the_ranks_trained_for_the_chosen_targets(explorer):
    explorer.targets.value = "o_proj"
    assert explorer.rank.options == (8,) and explorer.rank.value == 8
    assert "LoRA on o_proj, r = 8" in explorer.label.value and "3,072" in explorer.label.value
    explorer.targets.value = "q_proj, v_proj"
    assert explorer.rank.value == 8          # the rank is kept when the new targets have it


def test_explorer_rejects_missing_results():
    with pytest.raises(ValueError, match="results is empty"):
        FinetuneExplorer({})
    with pytest.raises(ValueError, match="no results for targets 'fc1'"):
        FinetuneExplorer({("q_proj", 8): fake_run(0.1, 0.9, 100)}, targets="fc1")


def test_smooth_is_a_running_mean():
    assert smooth([1.0, 3.0, 5.0, 7.0], window=2) == [1.0, 2.0, 4.0, 6.0]
    assert smooth([4.0], window=10) == [4.0]


def test_describe_reports_share_of_parameters():
    line = describe("fc2", 4, RunResult([1.0], 0.5, 100, 1_000), {})
    assert "100 trainable parameters (10.00% of 1,000)" in line and "50.0%" in line
