"""What a plugin author needs is public and documented: GridVAE and its input helpers from
``vaeframe`` (without ``import vaeframe`` importing torch), ``Progress.at`` for unit tests, the
plugin guide's examples as they are written, and ``floor_field`` against ``kl_floor``."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import tomllib
import torch
from conftest import CONFIGS, ROOT, cli_env, only_run_dir, read_jsonl, vaeframe, write_plugin

import vaeframe as vaeframe_api
from vaeframe import Progress

GUIDE = ROOT / "docs" / "plugins.md"
SMOKE_KL = '[kl]\nname = "free_bits"\nthreshold = 0.1'

# A KL regularizer written as the register_kl_regularizers hookspec says: kl_loss(self, kl),
# floor_field naming the field that holds the floor, is_plain_kl. The guide shows it as
# my_floor.py (a test below keeps the two the same).
MY_FLOOR = '''\
"""my_floor: free bits on each dimension's batch mean, as a KL regularizer plugin."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import attrs

from vaeframe import at_least, hookimpl

if TYPE_CHECKING:
    from torch import Tensor


@attrs.define
class MeanFloor:
    """Each dimension's batch-mean KL counts as at least min_nats (no gradient below it)."""

    floor_field: ClassVar[str] = "min_nats"  # what --free-bits sets and criterion 2 checks

    min_nats: float = attrs.field(default=0.25, validator=at_least(0.0))

    def kl_loss(self, kl: Tensor) -> Tensor:
        if self.min_nats == 0:  # a floor of 0 is exactly the plain KL
            return kl.sum(dim=1).mean()
        return kl.mean(dim=0).clamp(min=self.min_nats).sum()

    def is_plain_kl(self) -> bool:
        return self.min_nats == 0


@hookimpl
def register_kl_regularizers(register):
    register("mean_floor", MeanFloor)
'''

# the old way of declaring a floor, which vaeframe does not read: refused where it registers
OLD_FLOOR = '''
    import attrs
    from vaeframe import hookimpl

    @attrs.define
    class OldFloor:
        """Free bits that declare their floor with a kl_floor method."""
        threshold: float = 0.3

        def kl_loss(self, kl):
            return kl.clamp(min=self.threshold).sum(dim=1).mean()

        def kl_floor(self):
            return self.threshold

    @hookimpl
    def register_kl_regularizers(register):
        register("old_floor", OldFloor)
'''


def guide_example(name: str) -> str:
    """The code of the guide's ``<!-- example: NAME -->`` block."""
    match = re.search(rf"<!-- example: {re.escape(name)} -->\n```\w*\n(?P<code>.*?)```\n"
                      r"<!-- /example -->", GUIDE.read_text(), re.DOTALL)
    assert match, f"docs/plugins.md has no example {name}"
    return match["code"]


def smoke_with_kl(directory: Path, kl: str) -> Path:
    """configs/smoke.toml with its [kl] table replaced by ``kl``."""
    text = (CONFIGS / "smoke.toml").read_text()
    assert SMOKE_KL in text
    run_file = directory / "run.toml"
    run_file.write_text(text.replace(SMOKE_KL, kl))
    return run_file


# -- GridVAE, one_hot_grids, coordinate_planes -------------------------------------------------

def test_the_model_helpers_are_public_and_the_same_as_vaeframe_modules() -> None:
    import vaeframe.modules as modules
    from vaeframe import GridVAE, coordinate_planes, one_hot_grids

    assert (GridVAE, one_hot_grids, coordinate_planes) == (
        modules.GridVAE, modules.one_hot_grids, modules.coordinate_planes)
    assert {"GridVAE", "one_hot_grids", "coordinate_planes"} <= set(vaeframe_api.__all__)
    assert {"GridVAE", "one_hot_grids", "coordinate_planes"} <= set(dir(vaeframe_api))
    assert all(hasattr(vaeframe_api, name) for name in vaeframe_api.__all__)
    with pytest.raises(AttributeError, match="no attribute 'GridVae'"):
        _ = vaeframe_api.GridVae
    planes = coordinate_planes(2, 3, torch.zeros(1, dtype=torch.float64))
    assert planes.shape == (2, 2, 3, 3) and planes.dtype == torch.float64
    assert planes[0, 0, :, 0].tolist() == [-1.0, 0.0, 1.0]  # rows
    assert planes[0, 1, 0, :].tolist() == [-1.0, 0.0, 1.0]  # columns
    one_hot = one_hot_grids(torch.tensor([[[0, 10]]], dtype=torch.uint8))
    assert one_hot.shape == (1, 11, 1, 2) and one_hot[0, :, 0, 1].argmax().item() == 10


def test_import_vaeframe_does_not_import_torch_until_a_model_helper_is_used() -> None:
    script = textwrap.dedent("""
        import sys
        import vaeframe
        names = dir(vaeframe), vaeframe.__all__, vaeframe.Progress, vaeframe.pack_grids
        before = "torch" in sys.modules
        from vaeframe import GridVAE
        print(before, "torch" in sys.modules, GridVAE.__module__)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=cli_env(), timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True", "vaeframe.modules"]


# -- Progress.at -------------------------------------------------------------------------------

def test_progress_at_a_point_of_a_run() -> None:
    progress = Progress.at(epoch=3, step=25, num_epochs=10, fraction=0.2)
    values = [progress.epoch, progress.step, progress.num_epochs, progress.fraction]
    assert all(v.shape == () and v.dtype == torch.float32 and v.device.type == "cpu"
               for v in values)
    assert [v.item() for v in values] == pytest.approx([3, 25, 10, 0.2])
    assert progress.epochs_done.item() == pytest.approx(2.0)
    start = Progress.at()
    assert [start.epoch.item(), start.step.item(), start.num_epochs.item(),
            start.fraction.item()] == [1, 1, 1, 0]
    assert Progress.at(fraction=1.0).fraction.item() == 1.0  # both ends are allowed
    with pytest.raises(TypeError):
        Progress.at(3)  # keyword-only


@pytest.mark.parametrize(("arguments", "message"), [
    ({"epoch": 0}, "epoch must be a number >= 1, got 0"),
    ({"step": 0}, "step must be a number >= 1, got 0"),
    ({"num_epochs": 0}, "num_epochs must be a number >= 1, got 0"),
    ({"epoch": True}, "epoch must be a number >= 1, got True"),
    ({"epoch": 3, "num_epochs": 2}, "epoch must be <= num_epochs (2), got 3"),
    ({"fraction": -0.1}, "fraction (the share of the run's steps done before this step) must "
                         "be from 0 to 1, got -0.1"),
    ({"fraction": 1.5}, "must be from 0 to 1, got 1.5"),
    ({"fraction": float("nan")}, "must be from 0 to 1, got nan"),
])
def test_progress_at_refuses_a_point_no_run_reaches(arguments: dict, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        Progress.at(**arguments)
    assert str(caught.value).startswith("Progress.at: ")
    assert message in str(caught.value)


WATCHER = '''
    import attrs
    from vaeframe import hookimpl

    @attrs.define
    class Watcher:
        """Plain KL that monitors the progress it is given."""

        def kl_loss(self, kl):
            return kl.sum(dim=1).mean()

        def monitor(self, progress):
            return {"epoch": progress.epoch, "step": progress.step,
                    "fraction": progress.fraction}

    @hookimpl
    def register_kl_regularizers(register):
        register("watcher", Watcher)
'''


@pytest.mark.slow
def test_monitored_progress_is_the_documented_one_in_a_real_run(tmp_path: Path) -> None:
    """80 grids in batches of 32: 3 steps an epoch, the last one short; 2 epochs, every step
    logged. train/kl/* is the progress of the step just taken, logged with its number (the
    progress's step); epoch/kl/* is the mean over the epoch's steps."""
    path = write_plugin(tmp_path, "watcher", WATCHER)
    run_file = smoke_with_kl(tmp_path, '[kl]\nname = "watcher"')
    result = vaeframe("-p", "watcher", "run", run_file, "--epochs", "2",
                      "--set", "data.num_train=80", "--set", "train.log_every_n_steps=1",
                      "--set", f"run.output_dir={tmp_path / 'runs'}", PYTHONPATH=path)
    assert result.returncode == 0, result.stderr
    rows = read_jsonl(only_run_dir(tmp_path / "runs") / "metrics.jsonl")
    logged = [(row["step"], row["train/kl/epoch"], row["train/kl/step"],
               row["train/kl/fraction"]) for row in rows if "train/kl/step" in row]
    expected = [(3 * (e - 1) + i + 1, e, 3 * (e - 1) + i + 1, (e - 1 + i / 3) / 2)
                for e in (1, 2) for i in range(3)]
    assert [row[:3] for row in logged] == [row[:3] for row in expected]
    assert [row[3] for row in logged] == pytest.approx([row[3] for row in expected])
    epochs = [(row["step"], row["epoch/kl/epoch"], row["epoch/kl/fraction"]) for row in rows
              if "epoch/kl/fraction" in row]
    assert [row[:2] for row in epochs] == [(3, 1), (6, 2)]  # at the epoch's last step
    assert [row[2] for row in epochs] == pytest.approx([(0 + 1 / 6 + 2 / 6) / 3,
                                                        (3 / 6 + 4 / 6 + 5 / 6) / 3])
    made = Progress.at(epoch=2, step=5, num_epochs=2, fraction=(2 - 1 + 1 / 3) / 2)
    assert [made.epoch.item(), made.step.item(), made.fraction.item()] == \
        pytest.approx(list(logged[4][1:]))  # what the engine gave the fifth step


# -- the guide's examples ----------------------------------------------------------------------

def test_the_guides_floor_example_is_the_tested_regularizer() -> None:
    assert guide_example("my_floor.py") == MY_FLOOR


@pytest.mark.slow
def test_the_guides_example_tests_pass(tmp_path: Path) -> None:
    """The model plugin (two modules) and the tests of the "Testing a plugin" section, run
    by pytest as their author would; then list-plugins finds the guide's components."""
    for name in ("tiny_conv.py", "tiny_conv_net.py", "test_tiny_conv.py",
                 "test_capacity_progress.py", "my_floor.py"):
        (tmp_path / name).write_text(guide_example(name))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_tiny_conv.py",
         "test_capacity_progress.py"], cwd=tmp_path, capture_output=True, text=True,
        env=cli_env(PYTHONPATH=str(tmp_path)), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    listed = vaeframe("-p", "tiny_conv", "-p", "my_floor", "list-plugins", "--json",
                      PYTHONPATH=str(tmp_path))
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    assert data["problems"] == []
    assert "tiny_conv" in [c["name"] for c in data["models"]]
    assert "mean_floor" in [c["name"] for c in data["kl_regularizers"]]


# -- floor_field and kl_floor ------------------------------------------------------------------

@pytest.mark.slow
def test_free_bits_sets_a_plugins_floor_field_and_gets_criterion_2(tmp_path: Path) -> None:
    path = write_plugin(tmp_path, "my_floor", MY_FLOOR)
    run_file = smoke_with_kl(tmp_path, '[kl]\nname = "mean_floor"')
    result = vaeframe("-p", "my_floor", "run", run_file, "--free-bits", "0.2", "--epochs", "2",
                      "--set", f"run.output_dir={tmp_path / 'runs'}", PYTHONPATH=path)
    assert result.returncode == 0, result.stderr
    assert "note: --free-bits" not in result.stderr  # it declares a floor: nothing switched
    run_dir = only_run_dir(tmp_path / "runs")
    resolved = tomllib.loads((run_dir / "config.toml").read_text())
    assert resolved["kl"] == {"name": "mean_floor", "min_nats": 0.2}
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["declared"]["kl_floor"] == 0.2
    [floor] = [c for c in summary["criteria"] if c["id"] == "free_bits_floor"]
    assert floor["criterion"] == "2. free bits prevents collapse"
    assert floor["threshold"] == 0.2 and isinstance(floor["passed"], bool)


@pytest.mark.slow
def test_a_class_that_defines_kl_floor_is_refused_where_it_registers(tmp_path: Path) -> None:
    path = write_plugin(tmp_path, "old_floor", OLD_FLOOR)
    listed = vaeframe("-p", "old_floor", "list-plugins", "--json", PYTHONPATH=path)
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    assert "old_floor" not in [c["name"] for c in data["kl_regularizers"]]
    [problem] = [p for p in data["problems"] if "old_floor" in p]
    assert "KL regularizer 'old_floor' (OldFloor) defines kl_floor, which vaeframe does not " \
           "read" in problem
    assert 'floor_field: ClassVar[str] = "threshold"' in problem

    run_file = smoke_with_kl(tmp_path, '[kl]\nname = "old_floor"')
    result = vaeframe("-p", "old_floor", "run", run_file, "--set",
                      f"run.output_dir={tmp_path / 'runs'}", PYTHONPATH=path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {run_file}: kl.name: "), lines
    assert "unknown KL regularizer 'old_floor'" in lines[0]
    assert "defines kl_floor" in lines[0] and "floor_field" in lines[0]
    assert not (tmp_path / "runs").exists()
