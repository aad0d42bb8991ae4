"""The engine in-process: bit identity of free bits 0, no host sync in the step, data on device."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import tomllib
import torch
from conftest import CONFIGS, host_syncs_of_one_epoch, shared_registry

from vaeframe import Logger
from vaeframe.config.overrides import configure
from vaeframe.config.schema import ComponentConfig
from vaeframe.rundir.layout import create_run_dir
from vaeframe.training.trainer import Trainer


def smoke_config(tmp_path: Path, *sets: str):
    raw = tomllib.loads((CONFIGS / "smoke.toml").read_text())
    return configure(raw, shared_registry(), "smoke.toml",
                     sets=[f"run.output_dir={tmp_path}", *sets])


def train(tmp_path: Path, *sets: str) -> Trainer:
    config = smoke_config(tmp_path, *sets)
    trainer = Trainer(config, create_run_dir(config.run.output_dir, config.run.name), [])
    trainer.fit()
    return trainer


def test_free_bits_zero_gives_bit_identical_weights_to_plain_kl(tmp_path: Path) -> None:
    plain = train(tmp_path, 'kl={name="none"}')
    free0 = train(tmp_path, 'kl={name="free_bits", threshold=0.0}')
    clamped = train(tmp_path, 'kl={name="free_bits", threshold=0.1}')
    plain_state, free0_state = plain.model.state_dict(), free0.model.state_dict()
    assert all(torch.equal(plain_state[k], free0_state[k]) for k in plain_state)
    assert plain.state.history == free0.state.history
    clamped_state = clamped.model.state_dict()
    assert not all(torch.equal(plain_state[k], clamped_state[k]) for k in plain_state)


def test_same_seed_same_metrics(tmp_path: Path) -> None:
    assert train(tmp_path).state.history == train(tmp_path).state.history


def test_grids_live_on_the_device_as_one_uint8_tensor(tmp_path: Path) -> None:
    config = smoke_config(tmp_path)
    trainer = Trainer(config, tmp_path, [])
    grids = trainer.parts.data.train
    assert isinstance(grids, torch.Tensor)
    assert grids.dtype == torch.uint8 and grids.shape == (96, 30, 30)
    assert grids.device == trainer.device




OPTIMISATION = ('lr_schedule={name="cosine", warmup_fraction=0.3}', "train.ema_decay=0.99",
                "train.clip_grad_norm=1.0")


@pytest.mark.parametrize("sets", [('kl={name="free_bits", threshold=0.1}',),
                                  ('kl={name="capacity", gamma=10.0, c_max=5.0}',),
                                  ("optimizer.name=adamw", *OPTIMISATION),
                                  ("optimizer.name=sgd", *OPTIMISATION)],
                         ids=["free_bits", "capacity", "adamw+cosine+ema+clip",
                              "sgd+cosine+ema+clip"])
def test_training_steps_make_no_host_sync_except_at_logging_steps(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sets: tuple[str, ...]) -> None:
    """Also with a regularizer that reads the progress and monitors a value, and with a
    scheduled learning rate, weight averaging and clipping."""
    config = smoke_config(tmp_path, "train.log_every_n_steps=2", "train.batch_size=16", *sets)
    trainer = Trainer(config, tmp_path, [])
    calls = host_syncs_of_one_epoch(trainer, monkeypatch)  # 6 steps, logging at 2, 4, 6
    assert trainer.state.step == 6
    assert {step for _, step in calls} <= {2, 4, 6}, calls
    assert [name for name, _ in calls].count("cpu") == 3  # one transfer per logging step


class SlowFirstCall:
    """The eager step, but its first call takes 1.5 s longer and says so, as a fast path's
    capture does."""

    def __init__(self, step) -> None:
        self.step = step
        self.capture_seconds = 0.0

    def __call__(self, batch: torch.Tensor):
        if not self.capture_seconds:
            time.sleep(1.5)
            self.capture_seconds = 1.5
        return self.step(batch)


class SlowLogger(Logger):
    """Takes 0.2 s over every row."""

    rows = 0

    def log(self, metrics, step: int) -> None:
        time.sleep(0.2)
        self.rows += 1


def test_capture_and_logging_are_not_counted_as_training(tmp_path: Path) -> None:
    config = smoke_config(tmp_path, "train.log_every_n_steps=1")
    logger = SlowLogger()
    trainer = Trainer(config, create_run_dir(config.run.output_dir, config.run.name),
                      [ComponentConfig("loggers", "slow", logger)])
    trainer.parts.step_function = SlowFirstCall(trainer.parts.step_function)
    began = time.perf_counter()
    trainer.fit()
    fitted = time.perf_counter() - began
    assert logger.rows == 12  # 3 epochs of 3 steps, each step and each epoch end
    times = trainer.record().phase_seconds
    assert times["capture"] == 1.5 and times["loggers"] >= 2.4
    # the phases do not overlap, however loaded the machine: counting the 1.5 s of capture
    # or the 2.4 s of logging as training would make them add up to more than fit() took
    train = trainer.clock.seconds["train"]
    assert train > 0 and train + times["capture"] + times["loggers"] <= fitted + 1e-3
    assert times["setup"] > 0 and times["data"] > 0
