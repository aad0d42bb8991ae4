"""Models and reconstruction losses as plugins: a third-party model and loss from a -p module
train end to end and are drawn by the report; a model that breaks the contract is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CONFIGS, only_run_dir, read_jsonl, run_with_plugin, vaeframe

PLUGIN = """
    import attrs
    from vaeframe import at_least, hookimpl

    @attrs.define
    class TinyMLP:
        '''An MLP over the one-hot cells: a model an outside author might try.'''
        latent_dim: int = attrs.field(default=3, validator=at_least(1))
        hidden: int = attrs.field(default=32, validator=at_least(1))
        broken: str = ""  # "" keeps the contract; else which part to break

        def build(self):
            import torch
            from torch import nn
            from vaeframe.modules import GridVAE, one_hot_grids

            spec = self

            class Net(GridVAE):
                def __init__(self):
                    super().__init__()
                    self.latent_dim = spec.latent_dim
                    self.enc = nn.Sequential(nn.Flatten(), nn.Linear(11 * 900, spec.hidden),
                                             nn.ReLU(), nn.Linear(spec.hidden, 2 * spec.latent_dim))
                    side = 29 if spec.broken == "logits" else 30
                    self.side = side
                    self.dec = nn.Sequential(nn.Linear(spec.latent_dim, spec.hidden), nn.ReLU(),
                                             nn.Linear(spec.hidden, 11 * side * side))

                def encode(self, grids):
                    mu, logvar = self.enc(one_hot_grids(grids)).chunk(2, dim=1)
                    return mu, logvar

                def decode(self, z):
                    return self.dec(z).view(-1, 11, self.side, self.side)

            net = Net()
            if spec.broken == "latent":
                net.latent_dim = "three"
            return net

    @attrs.define
    class Hinge:
        '''Multi-class hinge loss of every cell, summed over the cells.'''
        margin: float = attrs.field(default=1.0, validator=at_least(0.0))

        def loss(self, logits, grids):
            import torch.nn.functional as F
            flat = logits.permute(0, 2, 3, 1).reshape(-1, 11)
            per_cell = F.multi_margin_loss(flat, grids.long().reshape(-1), margin=self.margin,
                                           reduction="none")
            return per_cell.view(grids.shape[0], -1).sum(1).mean()

    @hookimpl
    def register_models(register):
        register("tiny_mlp", TinyMLP)

    @hookimpl
    def register_losses(register):
        register("hinge", Hinge)
"""


def run(tmp_path: Path, out: Path, *sets: str):
    return run_with_plugin(tmp_path, "tiny_model_plugin", PLUGIN, "run", CONFIGS / "smoke.toml",
                           "--set", f"run.output_dir={out}", "--set", 'model={name="tiny_mlp"}',
                           *sets)


@pytest.mark.slow
def test_a_plugin_model_and_loss_train_and_the_report_draws_them(tmp_path: Path) -> None:
    result = run(tmp_path, tmp_path / "runs", "--set", 'loss={name="hinge", margin=0.5}')
    assert result.returncode == 0, result.stderr
    run_dir = only_run_dir(tmp_path / "runs")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["latent_dim"] == 3
    assert len(summary["final"]["kl_per_dim"]) == 3
    rows = read_jsonl(run_dir / "metrics.jsonl")
    assert [k for k in rows[0] if k.startswith("train/kl_per_dim/dim_")] == [
        "train/kl_per_dim/dim_0", "train/kl_per_dim/dim_1", "train/kl_per_dim/dim_2"]
    config = (run_dir / "config.toml").read_text()
    assert 'name = "tiny_mlp"' in config and "margin = 0.5" in config

    report = run_with_plugin(tmp_path, "tiny_model_plugin", PLUGIN, "report", run_dir,
                             "--out", tmp_path / "rep")
    assert report.returncode == 0, report.stderr
    picture = tmp_path / "rep" / "reconstructions_smoke.png"
    assert picture.is_file() and picture.stat().st_size > 5_000
    assert "tiny_mlp" in (tmp_path / "rep" / "table.md").read_text()


@pytest.mark.parametrize(("broken", "problem"), [
    ("logits", "decode()'s logits has shape (2, 11, 29, 29)"),
    ("latent", "latent_dim is 'three'"),
])
def test_a_model_that_breaks_the_contract_is_refused_naming_the_plugin(
        tmp_path: Path, broken: str, problem: str) -> None:
    result = run(tmp_path, tmp_path / "runs", "--set", f'model.broken="{broken}"')
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: model 'tiny_mlp' of plugin 'tiny_model_plugin'")
    assert "breaks the model contract" in result.stderr and problem in result.stderr


def test_listing_shows_models_and_losses_with_their_parameters() -> None:
    result = vaeframe("list-plugins", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    models = {e["name"]: e for e in data["models"]}
    assert {"conv", "resconv"} <= set(models)
    assert {p["name"] for p in models["resconv"]["parameters"]} == {
        "latent_dim", "channels", "blocks", "coordinates"}
    losses = {e["name"]: e for e in data["losses"]}
    assert {p["name"]: p["default"] for p in losses["focal"]["parameters"]} == {
        "gamma": 2.0, "reduction": "sum"}
    assert {"cross_entropy"} <= set(losses) and losses["focal"]["package"] == "vaeframe"


def test_the_resconv_model_trains(tmp_path: Path) -> None:
    result = vaeframe("run", CONFIGS / "smoke.toml", "--set", f"run.output_dir={tmp_path}",
                      "--set", 'model={name="resconv", latent_dim=4, channels=[8, 8, 8]}',
                      "--set", 'loss={name="cross_entropy"}', "--epochs", "1")
    assert result.returncode == 0, result.stderr
    summary = json.loads((only_run_dir(tmp_path) / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["latent_dim"] == 4
