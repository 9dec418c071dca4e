"""The tiny GPT's pretraining script and the weights it produced, which ship with the course."""

import pytest
import torch

from refusal import unchanged
from tools import pretrain, pretrain_gpt
from lora_tutorial.course.models.gpt import TinyGPTConfig, load_pretrained_gpt, load_pretrained_gpt_info
from lora_tutorial.course.training import RECORDED_STEPS, pretraining_recipe, single_thread

SMALL = TinyGPTConfig(context=16, dim=32, depth=2, heads=4, mlp_hidden=64)


@pytest.fixture(scope="module")
def shipped():
    with single_thread():   # as the script measured them
        return load_pretrained_gpt_info()["metrics"], pretrain_gpt.validation_losses(
            load_pretrained_gpt("cpu"))


def test_shipped_weights_reproduce_the_recorded_validation_losses(shipped):
    recorded, measured = shipped
    assert measured["docs"] == pytest.approx(recorded["docs_validation_loss"], abs=1e-4)
    assert measured["code"] == pytest.approx(recorded["code_validation_loss"], abs=1e-4)


def test_code_is_a_new_domain_for_the_base_model(shipped):
    _, measured = shipped
    assert measured["code"] >= 1.3 * measured["docs"]
    assert measured["docs"] < 1.5          # it did learn the documentation


def test_recorded_run_is_described(shipped):
    recorded, _ = shipped
    assert recorded["seed"] == 0 and recorded["steps"] > 0 and recorded["parameters"] == 926_848


def test_the_script_replays_the_first_steps_of_the_shipped_run():
    """``python -m tools.pretrain_gpt`` with its defaults starts exactly as the run
    that made the shipped weights: same config, same settings, same first losses. The whole
    run takes minutes (repeated once on an AVX-512 CPU, it wrote the shipped weights byte for
    byte); its first steps take seconds."""
    info = load_pretrained_gpt_info()
    recorded = info["metrics"]
    args = pretrain_gpt.parse_arguments([])
    assert TinyGPTConfig() == TinyGPTConfig(**info["config"])
    recipe = pretraining_recipe(args)
    assert recipe == {key: recorded[key] for key in recipe}
    expected = recorded["first_training_losses"]
    assert len(expected) == RECORDED_STEPS
    with single_thread():   # as the script trains
        _, losses = pretrain_gpt.pretrain(TinyGPTConfig(), args.steps, args.lr,
                                          args.batch_size, args.seed, args.weight_decay,
                                          progress=False, stop_after=len(expected))
    # Other CPU kernels (AVX2, AVX-512, ATEN_CPU_CAPABILITY=default) change these losses by
    # less than 2e-7 (relative); a 10% change of the learning rate moves them by 5e-3, a
    # 100-step change of the schedule's length by 3e-3, another seed or data order by far more.
    # Weight decay barely acts in so few steps: the recipe check above guards it.
    assert losses == pytest.approx(expected, rel=1e-6)


def test_pretraining_is_deterministic_and_the_loss_falls():
    runs = [pretrain_gpt.pretrain(SMALL, steps=40, lr=3e-3, batch_size=8, seed=0,
                                  weight_decay=0.1, progress=False) for _ in range(2)]
    (model_a, losses_a), (model_b, losses_b) = runs
    assert losses_a == losses_b
    _, first = pretrain_gpt.pretrain(SMALL, steps=40, lr=3e-3, batch_size=8, seed=0,
                                     weight_decay=0.1, progress=False, stop_after=5)
    assert first == losses_a[:5]   # stopping early keeps the full run's schedule
    assert all(torch.equal(a, b) for a, b in zip(model_a.state_dict().values(),
                                                 model_b.state_dict().values()))
    assert sum(losses_a[-5:]) / 5 < sum(losses_a[:5]) / 5 - 1.0
    assert not model_a.training


def test_main_writes_weights_and_metrics(tmp_path, capsys):
    pretrain_gpt.main(["--out", str(tmp_path), "--steps", "2", "--no-progress"])
    info = load_pretrained_gpt_info(tmp_path)
    assert info["metrics"]["steps"] == 2 and len(info["metrics"]["first_training_losses"]) == 2
    assert set(info["metrics"]) >= {"docs_validation_loss", "code_validation_loss", "seed"}
    assert "validation loss" in capsys.readouterr().out


@pytest.mark.parametrize("script", [pretrain, pretrain_gpt], ids=["pretrain", "pretrain_gpt"])
@pytest.mark.parametrize("argv, message", [
    (["--steps", "0"], "argument --steps: must be a whole number at least 1, got 0"),
    (["--steps", "-1"], "argument --steps: must be a whole number at least 1, got -1"),
    (["--lr", "0"], "argument --lr: must be a finite number greater than 0, got 0"),
    (["--lr", "nan"], "argument --lr: must be a finite number greater than 0, got nan"),
    (["--lr", "inf"], "argument --lr: must be a finite number greater than 0, got inf"),
    (["--batch-size", "0"], "argument --batch-size: must be a whole number at least 1, got 0"),
    (["--weight-decay", "-0.1"], "argument --weight-decay: must be a finite number at least 0"),
    (["--out", "a_file"], "a_file is a file, not a folder; choose a folder"),
])
def test_a_run_that_cannot_make_sense_is_refused_before_it_starts(tmp_path, capsys, monkeypatch,
                                                                  script, argv, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a_file").write_text("not a folder")
    with unchanged(tmp_path), pytest.raises(SystemExit) as info:
        script.main(["--out", str(tmp_path), "--no-progress", *argv])
    assert info.value.code == 2
    assert message in capsys.readouterr().err
