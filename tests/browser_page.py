"""A real headless Chromium on `vaeframe explore`'s page: starting both, and reading grids
back from the page's canvases pixel by pixel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vaeframe.report.arc_grids import ARC_PALETTE

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
INSTALL = "apt-get install chromium chromium-driver, and pip install selenium"

#: JavaScript: the grid drawn on a canvas, read from the centre pixel of each cell, as
#: palette indices (-1 for a colour that is not in the palette)
READ_CANVAS = """
const [canvas, palette] = arguments;
const rows = +canvas.dataset.rows, cols = +canvas.dataset.cols, cell = +canvas.dataset.cell;
const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
const grid = [];
for (let r = 0; r < rows; r++) {
  const row = [];
  for (let c = 0; c < cols; c++) {
    const at = 4 * ((r * cell + (cell >> 1)) * canvas.width + c * cell + (cell >> 1));
    row.push(palette.findIndex(([red, green, blue]) =>
      pixels[at] === red && pixels[at + 1] === green && pixels[at + 2] === blue));
  }
  grid.push(row);
}
return grid;
"""

PALETTE_RGB = [[int(hex_[i : i + 2], 16) for i in (1, 3, 5)] for _, hex_ in ARC_PALETTE]


def browser():
    """A headless Chromium driven by Selenium, or a skip (a failure where CI sets
    ``VAEFRAME_REQUIRE_BROWSER=1``) saying what to install."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        selenium = None
    else:
        selenium = webdriver
    if selenium is None or not CHROMIUM or not CHROMEDRIVER:
        if os.environ.get("VAEFRAME_REQUIRE_BROWSER") == "1":
            pytest.fail(f"no headless browser on this machine: {INSTALL}")
        pytest.skip(f"no headless browser: {INSTALL}")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1600,1200"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def start_explorer(run_dir: Path, *flags: str, env: dict[str, str] | None = None,
                   **popen: Any) -> tuple[subprocess.Popen[str], str]:
    """``vaeframe explore RUN_DIR --port 0 FLAGS`` in a process of its own (``popen``: more
    arguments of ``subprocess.Popen``); the process and the URL it prints once it serves."""
    script = Path(sys.executable).with_name("vaeframe")
    process = subprocess.Popen([str(script), "explore", str(run_dir), "--port", "0", *flags],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env, **popen)
    assert process.stdout is not None
    line = process.stdout.readline()  # the server prints its URL when it is listening
    if "http://" not in line:
        process.kill()
        raise AssertionError(f"vaeframe explore did not start: {line}{process.stderr.read()}")
    return process, "http://" + line.split("http://", 1)[1].split()[0]


def read_canvas(driver, canvas) -> np.ndarray:
    grid = np.array(driver.execute_script(READ_CANVAS, canvas, PALETTE_RGB))
    assert (grid >= 0).all(), "a cell of the canvas is not drawn in an ARC colour"
    return grid


def wait_for(driver, script: str, timeout: float = 20.0):
    """Poll the JavaScript expression ``script`` until it is truthy; its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(f"return {script};")
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"the page never made {script!r} true in {timeout} s")
