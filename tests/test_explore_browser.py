"""`vaeframe explore` in a real headless Chromium, on runs trained here (configs/ultra.toml on
its ARC data for a few epochs, and a short arc-shapes run for the factor scores): the page
loads, and sliders, the map, painting, finding a task and the interpolation strip show what
`load_run` computes. Grids are read back from the page's canvases, pixel by pixel."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from browser_page import browser, read_canvas, start_explorer, wait_for
from conftest import CONFIGS, cli_env, only_run_dir, vaeframe

import vaeframe as vf

pytestmark = pytest.mark.slow

QUIET = ("--set", "loggers.0.progress=false")
TINY_SHAPES = ("--epochs", "1", "--set", "data.num_train=300", "--set", "data.num_heldout=100",
               "--set", "train.batch_size=50", "--set", "train.device=cpu", *QUIET)


def trained(tmp_path_factory: pytest.TempPathFactory, config: str, *flags: str) -> Path:
    out = tmp_path_factory.mktemp(config)
    result = vaeframe("run", CONFIGS / f"{config}.toml", "--set", f"run.output_dir={out}",
                      *flags, timeout=600)
    assert result.returncode == 0, result.stderr
    return only_run_dir(out)


@pytest.fixture(scope="module")
def arc_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The main job for 3 epochs: it already draws grids of many sizes and colours."""
    return trained(tmp_path_factory, "ultra", "--epochs", "3", *QUIET)


@pytest.fixture(scope="module")
def shapes_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short arc-shapes run: six factors and the disentanglement scores of its summary."""
    return trained(tmp_path_factory, "shapes", *TINY_SHAPES)


@pytest.fixture(scope="module")
def run(arc_run: Path) -> vf.TrainedRun:
    return vf.load_run(arc_run)


@contextlib.contextmanager
def opened(driver, run_dir: Path) -> Iterator[str]:
    """``vaeframe explore RUN_DIR`` serving, and its page loaded in ``driver``."""
    process, url = start_explorer(run_dir, env=cli_env())
    try:
        driver.get(url)
        wait_for(driver, "window.explorer && explorer.ready")
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        assert "Traceback" not in process.stderr.read()


@pytest.fixture(scope="module")
def driver() -> Iterator[object]:
    chromium = browser()
    yield chromium
    chromium.quit()


class _Quitting:
    def __init__(self, driver) -> None:
        self.driver = driver

    def close(self) -> None:
        self.driver.quit()


@pytest.fixture(scope="module")
def page(driver, arc_run: Path) -> Iterator[tuple[object, str]]:
    with opened(driver, arc_run) as url:
        yield driver, url


def shown(driver, element_id: str) -> np.ndarray:
    return read_canvas(driver, driver.find_element("id", element_id))


def idle(driver) -> None:
    wait_for(driver, "explorer.busy === 0")


def choose(driver, split: str, index: int) -> None:
    """Pick grid ``index`` of ``split`` with the page's own controls."""
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("id", "split")).select_by_value(split)
    box = driver.find_element("id", "index")
    box.clear()
    box.send_keys(str(index))
    driver.find_element("id", "show").click()
    wait_for(driver, f"explorer.selected && explorer.selected.split === '{split}' && "
                     f"explorer.selected.index === {index}")
    idle(driver)


def test_the_page_loads_with_a_slider_per_dimension_in_order_of_kl(page, run) -> None:
    driver, _ = page
    state = driver.execute_script("return explorer.state;")
    sliders = driver.find_elements("css selector", "#sliders input[type=range]")
    assert len(sliders) == run.latent_dim == 32
    order = [int(s.get_attribute("id").split("-")[1]) for s in sliders]
    assert order == [d["dim"] for d in state["dims"]]
    kls = [d["kl"] for d in state["dims"]]
    assert kls == sorted(kls, reverse=True)
    inactive = driver.find_elements("css selector", ".slider.inactive")
    assert len(inactive) == sum(not d["active"] for d in state["dims"])
    assert driver.find_element("id", "message").text == ""
    assert "ultra" in driver.title
    points = driver.execute_script("return explorer.points.length;")
    assert points == 2000  # 1,000 grids of each split on the map


def test_a_factor_dataset_shows_which_dimension_holds_each_factor(shapes_run) -> None:
    per_factor = vf.load_run(shapes_run).summary["disentanglement"]["per_factor"]
    driver = browser()  # a browser of its own: the module's stays on the ARC run's page
    with contextlib.closing(_Quitting(driver)), opened(driver, shapes_run):
        rows = [r.text for r in driver.find_elements("css selector", "#scores table tr")]
        assert len(rows) == 1 + len(per_factor) == 7
        for row, (factor, entry) in zip(rows[1:], per_factor.items(), strict=True):
            assert row.startswith(f"{factor} {entry['dim']} ")
        holds = driver.find_elements("css selector", ".slider .holds")
        assert sum(h.text.count("MIG gap") for h in holds) == len(per_factor)
        colours = [o.get_attribute("value") for o in
                   driver.find_elements("css selector", "#map-colour option")]
        assert colours == ["split", "size", *[f"factor:{k}" for k in range(6)]]


def test_moving_a_slider_shows_what_load_run_decodes(page, run) -> None:
    from selenium.webdriver.common.keys import Keys

    driver, _ = page
    choose(driver, "heldout", 3)
    before = shown(driver, "decoded-grid")
    np.testing.assert_array_equal(before, run.reconstruct([run.data().heldout[3]])[0])
    top = driver.execute_script("return explorer.state.dims[0].dim;")
    slider = driver.find_element("id", f"slider-{top}")
    for key in (Keys.END, Keys.HOME):  # a real key press on the slider: its input event
        slider.send_keys(key)
        wait_for(driver, f"explorer.decodedCode[{top}] === explorer.code[{top}] && "
                         "explorer.busy === 0")
        code = np.float32(driver.execute_script("return explorer.decodedCode;"))
        expected = run.decode(code[None])[0]
        np.testing.assert_array_equal(shown(driver, "decoded-grid"), expected)
        if not np.array_equal(expected, before):
            break
    else:
        pytest.fail("neither end of the top dimension's slider changed the decoded grid")
    driver.find_element("id", "reset").click()
    wait_for(driver, "JSON.stringify(explorer.decodedCode) === JSON.stringify(explorer.gridCode)"
                     " && explorer.busy === 0")
    np.testing.assert_array_equal(shown(driver, "decoded-grid"), before)
    copied = driver.find_element("id", "code-json").get_attribute("value")
    np.testing.assert_array_equal(np.float32(json.loads(copied)),
                                  run.encode([run.data().heldout[3]])[0][0])


def test_clicking_a_point_on_the_map_selects_that_grid(page, run) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    driver, _ = page
    pixels = np.array(driver.execute_script(
        "return explorer.points.map((p, k) => { const q = explorer.pointPixel(k); "
        "return [q.x, q.y]; });"))
    distance = np.linalg.norm(pixels[:, None] - pixels[None], axis=2)
    np.fill_diagonal(distance, np.inf)
    k = int(distance.min(1).argmax())  # the most isolated point: no neighbour to hit instead
    point = driver.execute_script(f"return explorer.points[{k}];")
    canvas = driver.find_element("id", "map")
    box = driver.execute_script("const b = arguments[0].getBoundingClientRect(); "
                                "return [b.width, b.height, arguments[0].width];", canvas)
    scale = box[0] / box[2]
    ActionChains(driver).move_to_element_with_offset(
        canvas, round(pixels[k, 0] * scale - box[0] / 2),
        round(pixels[k, 1] * scale - box[1] / 2)).perform()
    wait_for(driver, "!document.getElementById('tooltip').hidden")  # hovering shows the grid
    grids = run.data().train if point["split"] == "train" else run.data().heldout
    np.testing.assert_array_equal(shown(driver, "tooltip-grid"), grids[point["index"]])
    ActionChains(driver).click().perform()
    wait_for(driver, f"explorer.selected && explorer.selected.split === '{point['split']}' && "
                     f"explorer.selected.index === {point['index']}")
    idle(driver)
    np.testing.assert_array_equal(shown(driver, "input-grid"), grids[point["index"]])
    np.testing.assert_array_equal(shown(driver, "recon-grid"),
                                  run.reconstruct([grids[point["index"]]])[0])


def a_cell_that_matters(run: vf.TrainedRun) -> tuple[int, tuple[int, int], int]:
    """A small training grid, a cell and a colour whose painting changes the grid's
    reconstruction by ``run``: a model a few epochs old ignores most single cells."""
    for index, grid in enumerate(run.data().train):
        if grid.size > 9:
            continue
        before = run.reconstruct([grid])[0]
        for cell in np.ndindex(grid.shape):
            for colour in range(1, 10):
                painted = grid.copy()
                painted[cell] = colour
                after = run.reconstruct([painted])[0]
                if colour != grid[cell] and not np.array_equal(after, before):
                    return index, cell, colour
    raise AssertionError("no single cell of a small grid changes its reconstruction")


def test_painting_a_cell_changes_the_reconstruction(page, run) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    driver, _ = page
    index, (r, c), colour = a_cell_that_matters(run)
    grid = run.data().train[index]
    choose(driver, "train", index)
    before = shown(driver, "recon-grid")
    np.testing.assert_array_equal(before, run.reconstruct([grid])[0])
    driver.find_element("css selector", f"#palette button[data-colour='{colour}']").click()
    canvas = driver.find_element("id", "input-grid")
    size = int(canvas.get_attribute("data-cell"))
    box = driver.execute_script("const b = arguments[0].getBoundingClientRect(); "
                                "return [b.width, b.height];", canvas)
    scale = box[0] / int(canvas.get_attribute("width"))
    ActionChains(driver).move_to_element_with_offset(
        canvas, int((c + 0.5) * size * scale - box[0] / 2),
        int((r + 0.5) * size * scale - box[1] / 2)).click().perform()
    wait_for(driver, "explorer.selected.painted")
    idle(driver)
    painted = grid.copy()
    painted[r, c] = colour
    np.testing.assert_array_equal(shown(driver, "input-grid"), painted)
    after = shown(driver, "recon-grid")
    np.testing.assert_array_equal(after, run.reconstruct([painted])[0])
    assert not np.array_equal(after, before)
    code = np.float32(driver.execute_script("return explorer.gridCode;"))
    np.testing.assert_array_equal(code, run.encode([painted])[0][0])
    assert "painted grid" in driver.find_element("id", "selected").text


def test_the_strip_between_two_grids_ends_in_their_reconstructions(page, run) -> None:
    driver, _ = page
    data = run.data()
    choose(driver, "train", 10)
    driver.find_element("id", "set-a").click()
    choose(driver, "heldout", 20)
    driver.find_element("id", "set-b").click()
    wait_for(driver, "document.querySelectorAll('#strip canvas').length === 9")
    idle(driver)
    strip = driver.find_elements("css selector", "#strip canvas")
    ends = run.reconstruct([data.train[10], data.heldout[20]])
    np.testing.assert_array_equal(read_canvas(driver, strip[0]), ends[0])
    np.testing.assert_array_equal(read_canvas(driver, strip[-1]), ends[1])
    codes = np.float32(driver.execute_script("return explorer.stripCodes;"))
    middle = run.decode(codes[4:5])[0]
    np.testing.assert_array_equal(read_canvas(driver, strip[4]), middle)


def test_a_grid_is_found_by_its_arc_task_id_and_pair(page, run) -> None:
    driver, _ = page
    data = run.data()
    task, pair = data.heldout_labels["task_id"][40], data.heldout_labels["pair"][40]
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("id", "split")).select_by_value("heldout")
    for name, value in (("task_id", task), ("pair", pair)):
        box = driver.find_element("css selector", f"#find input[name={name}]")
        box.clear()
        box.send_keys(str(value))
    driver.find_element("css selector", "#find button").click()
    first = next(i for i in range(len(data.heldout)) if data.heldout_labels["task_id"][i] == task
                 and data.heldout_labels["pair"][i] == pair)
    wait_for(driver, f"explorer.selected && explorer.selected.index === {first}")
    idle(driver)
    np.testing.assert_array_equal(shown(driver, "input-grid"), data.heldout[first])
    assert task in driver.find_element("id", "selected").text


def test_a_bad_index_is_a_message_on_the_page_not_a_broken_page(page) -> None:
    driver, _ = page
    box = driver.find_element("id", "index")
    box.clear()
    box.send_keys("99999")
    driver.find_element("id", "show").click()
    message = wait_for(driver, "document.getElementById('message').textContent")
    assert "index 99999 is out of range" in message


def listening_addresses(port: int) -> set[str]:
    """The local addresses of the sockets listening on ``port``, from /proc/net/tcp."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def test_it_listens_on_127_0_0_1_by_default_and_warns_for_another_host(shapes_run) -> None:
    """Checked on the listening socket itself, as the kernel reports it."""
    process, url = start_explorer(shapes_run, env=cli_env())
    try:
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        assert url.startswith("http://127.0.0.1:")
        assert listening_addresses(port) == {"127.0.0.1"}
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    assert "warning" not in process.stderr.read()
    process, url = start_explorer(shapes_run, "--host", "0.0.0.0", env=cli_env())
    try:
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        assert listening_addresses(port) == {"0.0.0.0"}
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    warning = process.stderr.read()
    assert "warning: --host 0.0.0.0" in warning and "no password" in warning


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_it_also_where_sigint_came_in_ignored(shapes_run, signum) -> None:
    """A background job of a shell script starts with SIGINT ignored, and Python then raises
    no KeyboardInterrupt: the explorer still stops on Ctrl-C (and on SIGTERM), exit 0."""
    process, _ = start_explorer(shapes_run, env=cli_env(),
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    process.send_signal(signum)
    try:
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
    assert "stopped" in process.stderr.read()
