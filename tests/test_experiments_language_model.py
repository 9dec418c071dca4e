"""Notebook 8's experiments (lora_tutorial.course.experiments.language_model)."""

import pytest
import torch

from lora_tutorial.course.experiments import language_model as lm
from lora_tutorial.course.text import load_corpus, random_windows, validation_windows
from lora_tutorial.course.training import evaluate_lm, train_lm


@pytest.fixture(scope="module")
def data():
    code_train = load_corpus("code", "train")
    code_val = validation_windows(load_corpus("code", "validation"), 64, count=16)
    docs_val = validation_windows(load_corpus("docs", "validation"), 64, count=16)
    return code_train, code_val, docs_val


def test_same_budget_for_attention_and_mlp_adapters():
    counts = {m: sum(p.numel() for p in lm.prepare(m).parameters() if p.requires_grad)
              for m in lm.METHODS}
    assert counts["LoRA q,v (r=8)"] == counts["LoRA up,down (r=4)"] == 16_384
    assert counts["LoRA all linears (r=8)"] == 4 * 8 * (4 * 256 + 3 * 512)
    assert counts["full fine-tuning"] == sum(p.numel() for p in lm.prepare(
        "full fine-tuning").parameters())
    head = lm.prepare("head/embedding only")
    assert all(p.requires_grad == n.startswith(lm.HEAD_AND_EMBEDDINGS)
               for n, p in head.named_parameters())
    with pytest.raises(ValueError, match="unknown method"):
        lm.prepare("LoRA everything")


def test_adapt_follows_train_lm_step_for_step(data):
    code_train, code_val, docs_val = data
    run = lm.adapt("LoRA q,v (r=8)", 1e-2, 3, code_train, code_val, docs_val, steps=4,
                   batch_size=8, points=(2, 9))
    reference = lm.prepare("LoRA q,v (r=8)")
    losses = train_lm(reference, code_train, steps=4, lr=1e-2, batch_size=8, seed=3,
                      progress=False)
    assert run.losses == pytest.approx(losses, abs=1e-6)
    assert run.code == pytest.approx(evaluate_lm(reference, code_val), abs=1e-6)
    assert run.docs == pytest.approx(evaluate_lm(reference, docs_val), abs=1e-6)
    assert [p.step for p in run.curve] == [0, 2, 4]        # 9 lies beyond the run
    base = lm.prepare("LoRA q,v (r=8)")                      # B = 0: the base model's losses
    assert run.curve[0].code == pytest.approx(evaluate_lm(base, code_val), abs=1e-6)
    assert run.curve[-1].code < run.curve[0].code            # it learned something
    assert run.trainable == 16_384 and (run.method, run.lr, run.seed) == ("LoRA q,v (r=8)",
                                                                           1e-2, 3)


def test_costs_count_adam_state_and_checkpoints(tmp_path, data):
    code_train = data[0]
    batch = random_windows(code_train, 2, 64, torch.Generator().manual_seed(0))
    qv = lm.prepare("LoRA q,v (r=8)")
    before = {k: v.clone() for k, v in qv.state_dict().items()}
    c_qv = lm.costs("LoRA q,v (r=8)", qv, batch, 1e-2, tmp_path)
    assert all(torch.equal(v, qv.state_dict()[k]) for k, v in before.items())   # untouched
    assert c_qv.adam_bytes == 8 * 16_384 + 4 * 16       # 2 fp32 moments + 16 step counters
    c_full = lm.costs("full fine-tuning", lm.prepare("full fine-tuning"), batch, 1e-3, tmp_path)
    c_head = lm.costs("head/embedding only", lm.prepare("head/embedding only"), batch, 1e-2,
                      tmp_path)
    assert c_full.checkpoint_bytes > 40 * c_qv.checkpoint_bytes
    assert 4 * c_head.trainable < c_head.checkpoint_bytes < c_full.checkpoint_bytes
    c_qv.step()                                          # a step stays callable for timing


def _run(method, lr, seed, code, docs):
    points = (lm.CurvePoint(0, 2.0, 1.0), lm.CurvePoint(5, code + 0.1, docs - 0.01),
              lm.CurvePoint(10, code, docs))
    return lm.Run(method, lr, seed, 10, code, docs, points, ())


def test_tune_picks_the_lowest_mean_code_loss_and_summarises_its_seeds():
    runs = [_run("a", 1e-3, 0, 1.9, 1.2), _run("a", 1e-3, 1, 1.5, 1.2),   # mean 1.7
            _run("a", 1e-2, 0, 1.6, 1.4), _run("a", 1e-2, 1, 1.7, 1.5),   # mean 1.65
            _run("a", 1e-1, 0, 2.5, 1.9), _run("a", 1e-1, 1, 2.6, 2.0)]
    entry = lm.tune(runs)["a"]
    assert entry["tuned_lr"] == 1e-2 and entry["tuned_at_edge_of_grid"] is False
    assert entry["code"] == [1.6, 1.7] and entry["docs"] == [1.4, 1.5]
    assert entry["code_mean_min_max"] == pytest.approx([1.65, 1.6, 1.7])
    assert entry["docs_mean_min_max"] == pytest.approx([1.45, 1.4, 1.5])
    assert entry["curve"]["steps"] == [0, 5, 10]
    assert entry["curve"]["code"] == pytest.approx([2.0, 1.75, 1.65])
    assert entry["curve"]["docs"] == pytest.approx([1.0, 1.44, 1.45])
    assert entry["curve"]["code_by_seed"] == [pytest.approx([2.0, 1.7, 1.6]), [2.0, 1.8, 1.7]]
    assert set(entry["rates"]) == {"0.001", "0.01", "0.1"}
    tuned = lm.tuned_from_record({"methods": lm.tune(runs)})["a"]
    assert tuned.lr == 1e-2 and tuned.rates == (1e-3, 1e-2, 1e-1)
    assert str(tuned.code_spread) == "1.650 (1.600–1.700)"
    edge = lm.tune(runs[:4] + [_run("a", 1e-4, 0, 1.0, 1.0), _run("a", 1e-4, 1, 1.0, 1.0)])
    assert edge["a"]["tuned_lr"] == 1e-4 and edge["a"]["tuned_at_edge_of_grid"] is True


def test_forgetting_at_matched_learning_reads_the_curve_between_its_points():
    assert lm.docs_at_code([2.0, 1.8, 1.6], [1.0, 1.2, 1.6], 1.7) == pytest.approx(1.4)
    assert lm.docs_at_code([2.0, 1.8, 1.6], [1.0, 1.2, 1.6], 2.1) == 1.0
    assert lm.docs_at_code([2.0, 1.8, 1.6], [1.0, 1.2, 1.6], 1.5) is None
    tuned = lm.Tuned("a", 1e-2, (1e-2,), 10, (1.6, 1.7), (1.4, 1.5), (0, 10), (2.0, 1.65),
                     (1.0, 1.45), ((2.0, 1.6), (2.0, 1.7)), ((1.0, 1.4), (1.0, 1.5)))
    assert tuned.docs_at_code(1.8) == pytest.approx((1.2, 1.5 * 0.2 / 0.3 + 1.0 - 0.2 / 0.3 * 1.0))
    assert tuned.docs_at_code(1.65) is None                  # the second seed stops at 1.7


def test_notebook_8_trains_each_method_at_its_recorded_tuned_rate():
    from lora_tutorial.course import facts, results

    recorded = results.load("language_model").figures["methods"]
    assert facts.CODE_LEARNING_RATES == {m: e["tuned_lr"] for m, e in recorded.items()}
    assert tuple(recorded) == lm.METHODS
    for method, entry in recorded.items():
        assert len(entry["rates"]) >= 3 and len(entry["seeds"]) >= 3, method
        assert entry["tuned_at_edge_of_grid"] is False, method   # the search bracketed it
