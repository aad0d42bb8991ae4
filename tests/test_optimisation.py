"""``[optimizer]``, ``[lr_schedule]``, ``train.clip_grad_norm`` and ``train.ema_decay``: the
built-ins against hand computations, the default against the Adam vaeframe always built, and
real runs' logged rates, averaged weights and summaries."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import CONFIGS, only_run_dir, read_jsonl, run_with_plugin, vaeframe
from test_engine import smoke_config

import vaeframe as vf
from vaeframe.config.schema import ComponentConfig, TrainSection
from vaeframe.rundir.checkpoint import load_checkpoint
from vaeframe.runs.runner import create_run_dir
from vaeframe.training.averaging import WeightAverage
from vaeframe.training.optimisation import Optimisation
from vaeframe.training.trainer import Trainer

SMOKE = CONFIGS / "smoke.toml"
STEPS_PER_EPOCH = 3  # smoke.toml: 96 training grids, batches of 32


def component(registry, kind: str, name: str, **params) -> ComponentConfig:
    found = registry.get(kind, name)
    return ComponentConfig(kind, name, found.cls(**params), found.source)


def test_list_plugins_shows_optimizers_and_schedules_with_their_parameters() -> None:
    listed = json.loads(vaeframe("list-plugins", "--json").stdout)
    optimizers = {c["name"]: c for c in listed["optimizers"]}
    schedules = {c["name"]: c for c in listed["lr_schedules"]}
    assert {"adam", "adamw", "sgd"} <= set(optimizers)
    assert {"constant", "cosine", "step"} <= set(schedules)
    fields = {p["name"]: p["default"] for p in optimizers["sgd"]["parameters"]}
    assert fields["momentum"] == 0.9 and fields["nesterov"] is False
    assert {p["name"] for p in schedules["cosine"]["parameters"]} == {
        "warmup_epochs", "warmup_fraction", "min_lr"}


def test_the_default_is_the_adam_vaeframe_always_built(tmp_path: Path) -> None:
    """Trained once as configured and once with the optimizer vaeframe built before
    ``[optimizer]`` existed (``Adam(lr=1e-3, weight_decay=0)``): the same weights and rows."""
    def trainer() -> Trainer:
        config = smoke_config(tmp_path)
        return Trainer(config, create_run_dir(config.run.output_dir, config.run.name), [])

    configured = trainer()  # each trainer seeds torch as it is made: one after the other
    configured.fit()
    by_hand = trainer()
    before = torch.optim.Adam(by_hand.model.parameters(), lr=1e-3, weight_decay=0.0,
                              fused=None, capturable=False)
    by_hand.parts.optimizer = by_hand.parts.optimisation.optimizer = before
    by_hand.parts.training_step.optimizer = before
    assert type(configured.parts.optimizer) is torch.optim.Adam
    assert configured.parts.optimizer.defaults == before.defaults
    by_hand.fit()
    assert all(torch.equal(a, b) for a, b in zip(configured.model.state_dict().values(),
                                                 by_hand.model.state_dict().values(),
                                                 strict=True))
    assert configured.state.history == by_hand.state.history
    assert all(isinstance(g["lr"], float) for g in configured.parts.optimizer.param_groups)


def expected_cosine(base: float, done: float, epochs: float, warmup: float,
                    min_lr: float) -> float:
    if done < warmup:
        return base * done / warmup
    position = (done - warmup) / (epochs - warmup)
    return min_lr + (base - min_lr) * (1 + math.cos(math.pi * position)) / 2


@pytest.mark.parametrize(("done", "expected"), [
    (0.0, 0.0), (1.0, 5e-4), (2.0, 1e-3), (6.0, 1e-5 + (1e-3 - 1e-5) / 2),
    (4.0, 1e-5 + (1e-3 - 1e-5) * (1 + math.cos(math.pi / 4)) / 2), (10.0, 1e-5)])
def test_cosine_by_hand(registry, done: float, expected: float) -> None:
    """A 10-epoch run, 2 epochs of warm-up, from 1e-3 to 1e-5: half-way through the warm-up
    it is 5e-4, half-way through the decay (epoch 6) the mean of the two ends."""
    cosine = component(registry, "lr_schedules", "cosine", warmup_epochs=2.0, min_lr=1e-5)
    progress = vf.Progress.at(epoch=min(int(done) + 1, 10), num_epochs=10, fraction=done / 10)
    assert float(cosine.params.lr(1e-3, progress)) == pytest.approx(expected, rel=1e-5)
    share = component(registry, "lr_schedules", "cosine", warmup_fraction=0.2, min_lr=1e-5)
    assert float(share.params.lr(1e-3, progress)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(("epoch", "expected"), [(1, 1.0), (3, 1.0), (4, 0.5), (7, 0.25)])
def test_step_decay_by_hand(registry, epoch: int, expected: float) -> None:
    step = component(registry, "lr_schedules", "step", every_epochs=3, gamma=0.5)
    progress = vf.Progress.at(epoch=epoch, num_epochs=9, fraction=(epoch - 1) / 9)
    assert float(step.params.lr(1.0, progress)) == expected


def test_constant_and_a_factor_of_one_declare_themselves_constant(registry) -> None:
    assert component(registry, "lr_schedules", "constant").params.is_constant()
    assert component(registry, "lr_schedules", "step", gamma=1.0).params.is_constant()
    assert not component(registry, "lr_schedules", "cosine").params.is_constant()


def test_the_average_by_hand() -> None:
    """Two updates with decay 0.9: the first uses min(0.9, 2/11), the second min(0.9, 3/12)."""
    model = torch.nn.Linear(2, 1)
    start = model.weight.detach().clone()
    average = WeightAverage(model, 0.9)
    expected = start.clone()
    for n, shift in ((1, 1.0), (2, -3.0)):
        with torch.no_grad():
            model.weight.add_(shift)
        average.update()
        decay = min(0.9, (1 + n) / (10 + n))
        expected = decay * expected + (1 - decay) * model.weight.detach()
        assert torch.allclose(average.model.weight, expected, atol=1e-7)
    assert float(average.updates) == 2 and not average.model.training


def test_clipping_scales_the_gradient_to_the_norm(registry) -> None:
    model = torch.nn.Linear(4, 1)
    settings = TrainSection(clip_grad_norm=0.5)
    optimisation = Optimisation(torch.optim.SGD(model.parameters(), lr=0.0),
                                component(registry, "lr_schedules", "constant"),
                                vf.Progress.create(1), model, settings)
    for scale, norm in ((100.0, 0.5), (1e-3, None)):
        optimisation.zero_grad()
        (model(torch.ones(3, 4)).sum() * scale).backward()
        before = torch.cat([p.grad.flatten() for p in model.parameters()]).norm()
        optimisation.step()
        after = torch.cat([p.grad.flatten() for p in model.parameters()]).norm()
        assert float(after) == pytest.approx(norm if norm else float(before), rel=1e-5)


def test_sgd_refuses_a_captured_step(registry) -> None:
    sgd = component(registry, "optimizers", "sgd")
    with pytest.raises(ValueError, match="no capturable mode"):
        sgd.params.build(torch.nn.Linear(2, 1).parameters(), torch.device("cpu"), True)


@pytest.fixture(scope="module")
def scheduled_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """AdamW, cosine with a one-epoch warm-up, clipping and averaging, evaluated every
    epoch but the first of three."""
    out = tmp_path_factory.mktemp("scheduled")
    result = vaeframe("run", SMOKE, "--set", "optimizer.name=adamw", "--set",
                      'lr_schedule={name="cosine", warmup_epochs=1, min_lr=1e-5}',
                      "--set", "train.ema_decay=0.9", "--set", "train.clip_grad_norm=50",
                      "--set", "train.log_every_n_steps=1", "--set", "train.eval_every_n_epochs=2",
                      "--set", f"run.output_dir={out}")
    assert result.returncode == 0, result.stderr
    run_dir = only_run_dir(out)
    (run_dir / "console.txt").write_text(result.stdout + result.stderr)
    return run_dir


def test_the_logged_rate_follows_the_cosine_formula_at_every_step(scheduled_run: Path) -> None:
    rows = [r for r in read_jsonl(scheduled_run / "metrics.jsonl") if "train/lr" in r]
    assert len(rows) == 3 * STEPS_PER_EPOCH  # a row at every step
    for step, row in enumerate(rows, start=1):
        done = (step - 1) / STEPS_PER_EPOCH  # epochs done before the step
        assert row["train/lr"] == pytest.approx(expected_cosine(1e-3, done, 3, 1, 1e-5),
                                                rel=1e-5, abs=1e-12), step
    epochs = [r for r in read_jsonl(scheduled_run / "metrics.jsonl") if "epoch/loss" in r]
    assert [r["lr"] for r in epochs] == [rows[i * 3 + 2]["train/lr"] for i in range(3)]


def test_evaluation_best_pt_and_load_run_use_the_averaged_weights(scheduled_run: Path) -> None:
    summary = json.loads((scheduled_run / "summary.json").read_text())
    assert summary["weights"] == {"averaged": True, "ema_decay": 0.9}
    state = load_checkpoint(scheduled_run / "checkpoints" / "last.pt")
    run = vf.load_run(scheduled_run, "last")
    assert run.averaged
    loaded = run.model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state["averaged"]["model"].items())
    assert not all(torch.equal(loaded[k], v) for k, v in state["model"].items())
    # the final evaluation was of these weights: the same held-out figure, recomputed
    heldout = run.data().heldout
    accuracy = vf.nonblack_accuracy(heldout, run.reconstruct(heldout))
    assert accuracy == pytest.approx(summary["final"]["heldout_nonblack_acc"], abs=1e-6)


def test_the_summary_keeps_the_mean_of_the_last_three_evaluations(scheduled_run: Path) -> None:
    rows = [r for r in read_jsonl(scheduled_run / "metrics.jsonl")
            if "heldout/nonblack_acc" in r]
    recent = json.loads((scheduled_run / "summary.json").read_text())["last_3_evaluations"]
    assert recent["epochs"] == [2, 3] == [int(r["epoch"]) for r in rows]
    values = [r["heldout/nonblack_acc"] for r in rows]
    assert recent["heldout_nonblack_acc"] == pytest.approx(np.mean(values))
    assert recent["heldout_nonblack_acc_range"] == pytest.approx(max(values) - min(values))


def test_the_console_prints_accuracies_only_on_epochs_that_measured_them(
        scheduled_run: Path) -> None:
    text = " ".join((scheduled_run / "console.txt").read_text().split())
    lines = re.findall(r"epoch (\d): β=.*?(?=epoch \d: β=|epoch 3/3|finished)", text)
    assert lines == ["1", "2", "3"]
    epoch_lines = re.split(r"(?=epoch \d: β=)", text)[1:]
    measured = {line[6]: "non-black acc train/held-out=" in line for line in epoch_lines}
    assert measured == {"1": False, "2": True, "3": True}


THIRD_PARTY = '''
import attrs
import torch
from vaeframe import hookimpl


@attrs.define
class PlainDescent:
    """Stochastic gradient descent without momentum, from a plugin."""

    lr: float = 1e-3

    def build(self, parameters, device, capturable):
        return torch.optim.SGD(parameters, lr=self.lr)


@attrs.define
class Halving:
    """Halves the rate every epoch."""

    def lr(self, base_lr, progress):
        return base_lr * 0.5 ** (progress.epoch - 1)


@hookimpl
def register_optimizers(register):
    register("plain_descent", PlainDescent)


@hookimpl
def register_lr_schedules(register):
    register("halving", Halving)
'''


def test_a_third_party_optimizer_and_schedule_run_from_the_run_file(tmp_path: Path) -> None:
    result = run_with_plugin(tmp_path, "my_optim", THIRD_PARTY, "run", SMOKE, "--set",
                             'optimizer={name="plain_descent", lr=0.004}', "--set",
                             'lr_schedule={name="halving"}', "--set",
                             f"run.output_dir={tmp_path / 'runs'}")
    assert result.returncode == 0, result.stderr
    rows = read_jsonl(only_run_dir(tmp_path / "runs") / "metrics.jsonl")
    rates = {int(r["epoch"]): r["train/lr"] for r in rows if "train/lr" in r}
    assert rates == pytest.approx({1: 0.004, 2: 0.002, 3: 0.001}, rel=1e-6)
    listed = run_with_plugin(tmp_path, "my_optim", THIRD_PARTY, "list-plugins")
    assert "plain_descent" in listed.stdout and "halving" in listed.stdout
