"""Contract v3: an objective written from docs/plugins.md that reads z, mu and logvar trains
end to end with -p; broken objectives are refused with one error naming the plugin."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import CONFIGS, ROOT, load_plugin, only_run_dir, read_jsonl, run_with_plugin

GUIDE = ROOT / "docs" / "plugins.md"


def guide_example(name: str) -> str:
    match = re.search(rf"<!-- example: {re.escape(name)} -->\n```\w*\n(?P<code>.*?)```\n"
                      r"<!-- /example -->", GUIDE.read_text(), re.DOTALL)
    assert match, f"docs/plugins.md has no example {name}"
    return match["code"]


def one_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


@pytest.mark.slow
def test_the_guides_objective_reads_the_posterior_and_trains(tmp_path: Path) -> None:
    result = run_with_plugin(tmp_path, "my_objective", guide_example("my_objective.py"),
                             "run", CONFIGS / "smoke.toml", "--set", 'kl={name="decorrelated"}',
                             "--set", f"run.output_dir={tmp_path / 'out'}")
    assert result.returncode == 0, result.stderr
    run_dir = only_run_dir(tmp_path / "out")
    rows = read_jsonl(run_dir / "metrics.jsonl")
    epochs = [row for row in rows if "epoch/loss" in row]
    assert len(epochs) == 3 and all(row["epoch/extra_loss"] > 0 for row in epochs)
    # the KL it computes from mu and logvar is the plain KL the step reports as kl_raw
    assert all(abs(row["epoch/kl_loss"] - row["epoch/kl_raw"]) < 1e-4 for row in epochs)
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "finished"


BROKEN = {
    "raises": ('''
        def kl_loss(self, posterior):
            raise RuntimeError("no z here")
    ''', "failed in kl_loss(): RuntimeError: no z here"),
    "reads_a_missing_network": ('''
        def kl_loss(self, posterior):
            return posterior.frozen("critic")(posterior.z).sum()
    ''', "the objective has no network 'critic'"),
}


def objective_module(body: str) -> str:
    return ("import attrs\nfrom vaeframe import hookimpl\n\n@attrs.define\nclass Broken:\n"
            "    '''An objective that breaks.'''\n"
            + "\n".join("    " + line for line in body.strip("\n").splitlines()) + "\n\n"
            "@hookimpl\ndef register_kl_regularizers(register):\n"
            "    register('broken', Broken)\n").replace("\n            ", "\n    ")


@pytest.mark.slow
def test_a_broken_objective_is_one_error_naming_the_plugin(tmp_path: Path) -> None:
    for case, (body, expected) in BROKEN.items():
        (tmp_path / case).mkdir()
        result = run_with_plugin(tmp_path / case, "broken_objective",
                                 objective_module(body), "run", CONFIGS / "smoke.toml",
                                 "--set", 'kl={name="broken"}',
                                 "--set", f"run.output_dir={tmp_path / case / 'out'}")
        assert result.returncode == 2, (case, result.stderr)
        line = one_error(result.stderr)
        assert "KL regularizer 'broken' of plugin 'broken_objective'" in line, line
        assert expected in line, line


def test_networks_without_a_loss_to_train_them_are_refused_where_they_register(
        tmp_path: Path) -> None:
    body = '''
        def kl_loss(self, posterior):
            return posterior.kl.sum(1).mean()

        def networks(self, latent_dim):
            import torch
            return {"critic": torch.nn.Linear(latent_dim, 1)}
    '''
    registry = load_plugin(tmp_path, "netless", objective_module(body))
    [problem] = registry.problems()
    assert problem.startswith("plugin 'netless'") and "no networks_loss(posterior)" in problem


@pytest.mark.slow
def test_a_model_without_return_z_is_refused_for_an_objective_that_needs_z(
        tmp_path: Path) -> None:
    model = '''
        import attrs
        import torch
        from vaeframe import hookimpl

        class Plain(torch.nn.Module):
            latent_dim = 2
            def __init__(self):
                super().__init__()
                self.enc = torch.nn.Linear(900, 4)
                self.dec = torch.nn.Linear(2, 11 * 900)
            def encode(self, grids):
                mu, logvar = self.enc(grids.float().flatten(1)).chunk(2, dim=1)
                return mu, logvar
            def decode(self, z):
                return self.dec(z).view(-1, 11, 30, 30)
            def forward(self, grids):
                mu, logvar = self.encode(grids)
                return self.decode(mu), mu, logvar

        @attrs.define
        class PlainModel:
            """A model whose forward() cannot return z."""
            def build(self):
                return Plain()

        @hookimpl
        def register_models(register):
            register("plain", PlainModel)
    '''
    result = run_with_plugin(tmp_path, "plain_model", model, "run", CONFIGS / "smoke.toml",
                             "--set", 'model={name="plain"}', "--set",
                             'kl={name="beta_tcvae"}', "--set",
                             f"run.output_dir={tmp_path / 'out'}")
    assert result.returncode == 2, result.stderr
    line = one_error(result.stderr)
    assert "reads the posterior's sampled z" in line and "return_z" in line
    assert "model 'plain' of plugin 'plain_model'" in line
