"""The tensorboard logger, read back with TensorBoard's own event-file readers."""

from __future__ import annotations

import json
import signal
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import tomllib
from conftest import CONFIGS, only_run_dir, read_jsonl
from tensorboard.backend.event_processing.event_accumulator import (
    SCALARS,
    TENSORS,
    EventAccumulator,
)
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.plugins.hparams import metadata as hparams_metadata
from test_run_file_errors import assert_clear_error
from tracker_runs import (
    KL_PER_DIM,
    LONG,
    expected_series,
    hidden,
    in_second_epoch,
    not_imported,
    run,
    start,
    wait_for_rows,
)
from vaeframe_loggers.flat import run_file_params

from vaeframe.rundir.checkpoint import load_checkpoint

LOGGERS = '[{name="jsonl"},{name="tensorboard"}]'


def read_events(directory: Path) -> EventAccumulator:
    """Every event TensorBoard shows for ``directory`` (nothing sampled away)."""
    accumulator = EventAccumulator(str(directory), size_guidance={SCALARS: 0, TENSORS: 0})
    accumulator.Reload()
    return accumulator


def scalar_series(events: EventAccumulator) -> dict[str, list[tuple[int, float]]]:
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)]
            for tag in events.Tags()["scalars"]}


def as_float32(series: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """TensorBoard keeps scalars as float32."""
    return [(step, float(np.float32(value))) for step, value in series]


def text(events: EventAccumulator, tag: str) -> list[tuple[int, str]]:
    """A text summary's values, with the four spaces of the code block taken off."""
    return [(e.step, "\n".join(line.removeprefix("    ") for line in
                               e.tensor_proto.string_val[0].decode().split("\n")))
            for e in events.Tensors(f"{tag}/text_summary")]


def assert_matches_metrics_jsonl(events: EventAccumulator, run_dir: Path) -> None:
    """Every figure of metrics.jsonl, at every step, once, and nothing else but final/*."""
    logged = scalar_series(events)
    expected = expected_series(run_dir)
    assert set(KL_PER_DIM) <= set(expected)
    assert {tag for tag in logged if not tag.startswith("final/")} == set(expected)
    for key, series in expected.items():
        assert logged[key] == as_float32(series), key


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One brief run with the tensorboard logger; its run directory."""
    output = tmp_path_factory.mktemp("tensorboard") / "runs"
    process = start(output, LOGGERS)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return only_run_dir(output)


def test_scalars_are_the_figures_of_metrics_jsonl(finished: Path) -> None:
    assert len(list(finished.glob("events.out.tfevents.*"))) == 1  # in the run directory
    assert_matches_metrics_jsonl(read_events(finished), finished)


def test_run_file_summary_and_hparams(finished: Path) -> None:
    events = read_events(finished)
    config = (finished / "config.toml").read_text()
    assert text(events, "config") == [(0, config.rstrip("\n"))]
    summary = json.loads((finished / "summary.json").read_text())
    [(step, summary_text)] = text(events, "summary")
    assert step == summary["steps"] and json.loads(summary_text) == summary

    final = {f"final/{k}": v for k, v in summary["final"].items() if not isinstance(v, list)}
    assert {tag: series for tag, series in scalar_series(events).items()
            if tag.startswith("final/")} == {k: as_float32([(step, v)]) for k, v in final.items()}

    start_info = hparams_metadata.parse_session_start_info_plugin_data(
        events.SummaryMetadata(hparams_metadata.SESSION_START_INFO_TAG).plugin_data.content)
    values = {name: getattr(value, value.WhichOneof("kind"))
              for name, value in start_info.hparams.items()}
    assert values == run_file_params(tomllib.loads(config))
    assert values["optimizer.lr"] == pytest.approx(1e-3)
    assert values["loggers.1.name"] == "tensorboard"
    experiment = hparams_metadata.parse_experiment_plugin_data(
        events.SummaryMetadata(hparams_metadata.EXPERIMENT_TAG).plugin_data.content)
    assert {info.name.tag for info in experiment.metric_infos} == set(final)


@pytest.mark.slow
def test_ctrl_c_then_resume_keeps_one_value_per_step(tmp_path: Path) -> None:
    output = tmp_path / "runs"
    process = start(output, LOGGERS, *LONG)
    run_dir = wait_for_rows(output, process, in_second_epoch)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    before = read_jsonl(run_dir / "metrics.jsonl")
    assert_matches_metrics_jsonl(read_events(run_dir), run_dir)

    resumed = run(output, "run", "--resume", run_dir)
    assert resumed.returncode == 0, resumed.stderr
    assert len(list(run_dir.glob("events.out.tfevents.*"))) == 2  # one file a process
    assert read_jsonl(run_dir / "metrics.jsonl")[:len(before)] == before
    assert_matches_metrics_jsonl(read_events(run_dir), run_dir)


@pytest.mark.slow
def test_kill_then_resume_purges_the_steps_after_the_checkpoint(tmp_path: Path) -> None:
    """SIGKILL leaves rows past the checkpoint; the resumed run's purge hides them."""
    output, log_dir = tmp_path / "runs", tmp_path / "tb"
    loggers = f'[{{name="jsonl"}},{{name="tensorboard",log_dir="{log_dir}"}}]'
    process = start(output, loggers, *LONG)
    run_dir = wait_for_rows(output, process, in_second_epoch)
    process.kill()
    process.communicate(timeout=60)
    checkpoint_step = int(load_checkpoint(run_dir / "checkpoints" / "last.pt")["step"])
    orphaned = {r["step"] for r in read_jsonl(run_dir / "metrics.jsonl")} - set(
        range(checkpoint_step + 1))
    assert orphaned, "the kill left no row after the checkpoint"

    resumed = run(output, "run", "--resume", run_dir)
    assert resumed.returncode == 0, resumed.stderr
    event_dir = log_dir / run_dir.name  # log_dir/<run directory's name>, also when resumed
    assert not list(run_dir.glob("events.out.*"))
    files = sorted(event_dir.glob("events.out.tfevents.*"))
    assert len(files) == 2
    loss_steps = [[event.step for event in EventFileLoader(str(path)).Load()
                   for value in event.summary.value if value.tag == "train/loss"]
                  for path in files]
    # the kill can land between two loggers' calls for one step: jsonl may hold one row more
    # than TensorBoard, never fewer (in_second_epoch waited for TensorBoard to have one)
    stale = {step for step in loss_steps[0] if step > checkpoint_step}
    assert stale and stale <= orphaned and len(orphaned - stale) <= 1, (stale, orphaned)
    written = Counter(step for steps in loss_steps for step in steps)
    assert {step for step, count in written.items() if count == 2} == stale  # shown once
    assert_matches_metrics_jsonl(read_events(event_dir), run_dir)


def test_listed_with_its_field(tmp_path: Path) -> None:
    result = run(tmp_path, "list-plugins", "--json")
    assert result.returncode == 0, result.stderr
    entry = next(e for e in json.loads(result.stdout)["loggers"] if e["name"] == "tensorboard")
    assert [(p["name"], p["default"]) for p in entry["parameters"]] == [("log_dir", "")]
    assert entry["description"].startswith("TensorBoard event files")


def test_runs_and_listings_without_them_import_neither_tensorboard_nor_mlflow(
        tmp_path: Path) -> None:
    result = not_imported(["tensorboard", "mlflow"], ["list-plugins", "--json"],
                          ["run", str(CONFIGS / "smoke.toml"), "--epochs", "1", "--set",
                           f"run.output_dir={tmp_path}", "--set", 'loggers=[{name="jsonl"}]'])
    assert result.returncode == 0, result.stderr


def test_without_tensorboard_installed_the_error_says_how_to_install_it(tmp_path: Path) -> None:
    result = hidden("tensorboard", "run", str(CONFIGS / "smoke.toml"), "--set",
                    f"run.output_dir={tmp_path}", "--set", f"loggers={LOGGERS}", cwd=tmp_path)
    assert_clear_error(result)
    assert result.stderr == ("error: the tensorboard logger needs the tensorboard package: "
                             "pip install 'vaeframe[tensorboard]'\n")


def test_bad_log_dir_names_the_key(tmp_path: Path) -> None:
    result = run(tmp_path, "run", CONFIGS / "smoke.toml", "--set",
                 'loggers=[{name="tensorboard",log_dir=3}]')
    assert_clear_error(result, "--set loggers=", "loggers.0.log_dir",
                       "expected a string, got integer 3")
    assert not (tmp_path / "runs").exists(), "training started"
