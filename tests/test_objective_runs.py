"""The disentangling objectives in real runs: each trains on smoke.toml and arc-shapes, makes
no host sync inside the step, resumes bit-identical after SIGINT (its own networks and every
metrics row included), and the fast paths refuse an objective with networks of its own."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
import torch
from conftest import (
    CONFIGS,
    host_syncs_of_one_epoch,
    only_run_dir,
    read_jsonl,
    shared_registry,
    vaeframe,
)
from test_resume import LONG, start, wait_for_epoch
from vaeframe_arc.shapes import ArcShapes

from vaeframe.config.overrides import configure
from vaeframe.config.tomlfile import parse_toml
from vaeframe.rundir.checkpoint import load_checkpoint
from vaeframe.training.fastpath import check_fast_path
from vaeframe.training.trainer import Trainer

OBJECTIVES = {
    "beta_tcvae": '{name="beta_tcvae"}',
    "beta_tcvae_mss": '{name="beta_tcvae", estimator="mss"}',
    "factor_vae": '{name="factor_vae", d_hidden=32, d_layers=3}',
    "dip_vae_i": '{name="dip_vae"}',
    "dip_vae_ii": '{name="dip_vae", kind="ii"}',
}


def smoke_trainer(tmp_path: Path, *sets: str) -> Trainer:
    config = configure(parse_toml(CONFIGS / "smoke.toml"), shared_registry(), "smoke.toml",
                       sets=[f"run.output_dir={tmp_path}", *sets])
    return Trainer(config, tmp_path, [])


@pytest.mark.parametrize("kl", OBJECTIVES.values(), ids=OBJECTIVES.keys())
def test_each_objective_trains_on_smoke_and_logs_its_terms(tmp_path: Path, kl: str) -> None:
    trainer = smoke_trainer(tmp_path, f"kl={kl}")
    trainer.fit()
    last = trainer.state.history[-1]
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())
    assert "epoch/extra_loss" in last and "heldout/nonblack_acc" in last
    assert ("epoch/networks_loss" in last) == ("factor_vae" in kl)
    weights = [p.detach().clone() for p in trainer.model.parameters()]
    again = smoke_trainer(tmp_path / "again", f"kl={kl}")
    again.fit()  # the same seed, the same run
    assert all(torch.equal(a, b) for a, b in zip(weights, again.model.parameters(), strict=True))
    assert again.state.history == trainer.state.history


@pytest.mark.parametrize("kl", OBJECTIVES.values(), ids=OBJECTIVES.keys())
def test_no_host_sync_in_the_step_with_each_objective(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kl: str) -> None:
    trainer = smoke_trainer(tmp_path, "train.log_every_n_steps=2", "train.batch_size=16",
                            f"kl={kl}")
    calls = host_syncs_of_one_epoch(trainer, monkeypatch)  # 6 steps, logging at 2, 4, 6
    assert trainer.state.step == 6
    assert {step for _, step in calls} <= {2, 4, 6}, calls
    assert [name for name, _ in calls].count("cpu") == 3


def test_the_fast_paths_refuse_an_objective_with_networks_of_its_own() -> None:
    for mode in ("graph", "inductor"):
        with pytest.raises(Exception, match="trains networks of its own") as caught:
            check_fast_path(mode, "fp32", "stop", torch.device("cuda"), "KL regularizer 'x'")
        assert 'compile = "off"' in str(caught.value)
    check_fast_path("off", "fp32", "stop", torch.device("cpu"), "KL regularizer 'x'")


def test_arc_shapes_draws_grids_with_one_factor_held_fixed() -> None:
    import numpy as np

    shapes = ArcShapes(num_train=10, num_heldout=10)
    rng = np.random.default_rng(0)
    for factor in shapes.factor_names:
        grids = shapes.fixed_factor_grids(factor, 16, rng)
        assert len(grids) == 16 and all(g.shape == (16, 16) for g in grids)
    # kind held fixed: the coloured cells' count varies but every grid has one colour
    colours = shapes.fixed_factor_grids("colour", 32, rng)
    assert len({int(g.max()) for g in colours}) == 1
    assert len({g.tobytes() for g in colours}) > 20


@pytest.mark.slow
@pytest.mark.parametrize("name", ["beta_tcvae", "factor_vae", "dip_vae_ii"])
def test_each_objective_runs_on_arc_shapes_with_the_factor_vae_score(tmp_path: Path,
                                                                     name: str) -> None:
    result = vaeframe("run", CONFIGS / "shapes.toml", "--epochs", "2", "--set",
                      "data.num_train=1500", "--set", "data.num_heldout=300", "--set",
                      f"kl={OBJECTIVES[name]}", "--set", f"run.output_dir={tmp_path}",
                      timeout=600)
    assert result.returncode == 0, result.stderr
    summary = json.loads((only_run_dir(tmp_path) / "summary.json").read_text())
    scores = summary["disentanglement"]
    assert {"mig", "dci_disentanglement", "sap", "factor_vae"} <= set(scores)
    assert 0.0 <= scores["factor_vae"]["score"] <= 1.0
    assert scores["factor_vae"]["eval_votes"] == 300


@pytest.mark.slow
@pytest.mark.parametrize("name", ["beta_tcvae", "factor_vae", "dip_vae_i"])
def test_each_objective_resumes_bit_identical_after_sigint(tmp_path: Path, name: str) -> None:
    args = [str(CONFIGS / "smoke.toml"), *LONG, "--set", f"kl={OBJECTIVES[name]}"]
    whole = vaeframe("run", *args, "--set", f"run.output_dir={tmp_path / 'whole'}")
    assert whole.returncode == 0, whole.stderr
    process = start("run", *args, "--set", f"run.output_dir={tmp_path / 'parts'}")
    run_dir = wait_for_epoch(tmp_path / "parts", 2, process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    saved = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert saved["epoch_in_progress"] is not None or saved["epoch"] < 8
    assert ("objective" in saved) == (name == "factor_vae")
    assert vaeframe("run", "--resume", run_dir).returncode == 0
    a = load_checkpoint(only_run_dir(tmp_path / "whole") / "checkpoints" / "last.pt")
    b = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    if name == "factor_vae":
        for key, value in a["objective"]["networks"]["discriminator"].items():
            assert torch.equal(value, b["objective"]["networks"]["discriminator"][key])
    assert read_jsonl(run_dir / "metrics.jsonl") == read_jsonl(
        only_run_dir(tmp_path / "whole") / "metrics.jsonl")
