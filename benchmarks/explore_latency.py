"""How fast `vaeframe explore` answers, measured in a real headless Chromium.

    python benchmarks/explore_latency.py RUN_DIR [--moves 50] [--rounds 3]

Per round: starts ``vaeframe explore RUN_DIR`` (the browser already running), times the
page until it is ready (sliders built, map drawn, first grid shown) from the command's
start, then moves sliders ``--moves`` times, one move at a time, and reads the page's own
timings: from each slider's ``input`` event to its decoded grid painted (two animation
frames after the grid is drawn). Also a burst: the same moves without waiting, as a fast
drag sends them (the page decodes only the latest). Prints one JSON line per round.

Needs chromium and chromium-driver (Debian: apt-get install chromium chromium-driver) and
selenium (pip install selenium).
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

MOVE = """
const [dim, value] = arguments;
const input = document.getElementById(`slider-${dim}`);
input.value = value;
input.dispatchEvent(new Event("input"));
"""


def chromium():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1600,1200"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver") or "chromedriver"),
                            options=options)


def wait_for(driver, script: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(f"return {script};")
        if value:
            return value
        time.sleep(0.002)
    raise TimeoutError(script)


def one_round(driver, run_dir: Path, moves: int) -> dict:
    script = Path(sys.executable).with_name("vaeframe")
    started = time.monotonic()
    process = subprocess.Popen([str(script), "explore", str(run_dir), "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        listening = time.monotonic() - started
        url = "http://" + line.split("http://", 1)[1].split()[0]
        driver.get(url)
        wait_for(driver, "window.explorer && explorer.ready")
        ready = time.monotonic() - started
        dims = driver.execute_script(
            "return explorer.state.dims.filter(d => d.active).map(d => [d.dim, d.low, d.high]);")
        dims = dims or driver.execute_script(
            "return explorer.state.dims.map(d => [d.dim, d.low, d.high]);")
        plan = [(dims[k % len(dims)][0], dims[k % len(dims)][1] + (dims[k % len(dims)][2] -
                 dims[k % len(dims)][1]) * ((7 * k) % 10 + 0.5) / 10) for k in range(moves)]
        driver.execute_script("explorer.timings = [];")
        for k, (dim, value) in enumerate(plan):
            driver.execute_script(MOVE, dim, value)
            wait_for(driver, f"explorer.timings.length >= {k + 1}")
        one_by_one = driver.execute_script("return explorer.timings;")
        driver.execute_script("explorer.timings = [];")
        for dim, value in plan:
            driver.execute_script(MOVE, dim, value)
        wait_for(driver, f"explorer.timings.length >= {moves}")
        burst = driver.execute_script("return explorer.timings;")
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)

    def figures(timings: list[float]) -> dict:
        return {"median_ms": round(float(np.median(timings)), 1),
                "p95_ms": round(float(np.percentile(timings, 95)), 1),
                "max_ms": round(float(np.max(timings)), 1), "moves": len(timings)}

    return {"listening_s": round(listening, 2), "page_ready_s": round(ready, 2),
            "server_says": line.split("[ready in ", 1)[-1].split(";")[0],
            "one_move_at_a_time": figures(one_by_one), "burst": figures(burst)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--moves", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    driver = chromium()
    try:
        for _ in range(args.rounds):
            print(json.dumps(one_round(driver, args.run_dir, args.moves)), flush=True)
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
