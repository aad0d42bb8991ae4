"""`vaeframe explore`'s server over a real trained arc-shapes run: what each request answers,
that bad requests get a 4xx with a message, that nothing outside the page is served, that it
binds to 127.0.0.1 by default and only reads the run directory."""

from __future__ import annotations

import hashlib
import http.client
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import CONFIGS, only_run_dir, vaeframe

import vaeframe as vf
from vaeframe.cli.app import main
from vaeframe.cli.parser import build_parser
from vaeframe.explore.server import ExploreServer
from vaeframe.explore.session import ExploreSession, _principal_components

TINY_SHAPES = ("--epochs", "1", "--set", "data.num_train=300", "--set", "data.num_heldout=100",
               "--set", "train.batch_size=50", "--set", "train.device=cpu",
               "--set", "loggers.0.progress=false")


@pytest.fixture(scope="module")
def shapes_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """configs/shapes.toml (arc-shapes, six factors, 10 latent dims), one short epoch."""
    out = tmp_path_factory.mktemp("shapes")
    result = vaeframe("run", CONFIGS / "shapes.toml", "--set", f"run.output_dir={out}",
                      *TINY_SHAPES)
    assert result.returncode == 0, result.stderr
    return only_run_dir(out)


def files_of(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def served(shapes_run: Path) -> Iterator[tuple[ExploreServer, vf.TrainedRun]]:
    before = files_of(shapes_run)
    run = vf.load_run(shapes_run)
    server = ExploreServer(("127.0.0.1", 0), ExploreSession(run, run.data(), per_split=60))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, run
    server.shutdown()
    server.server_close()
    assert files_of(shapes_run) == before, "the explorer changed the run directory"


def request(server: ExploreServer, method: str, path: str, body: object = None,
            raw: bytes | None = None) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection(*server.server_address[:2], timeout=30)
    payload = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    connection.request(method, path, body=payload,
                       headers={"Content-Type": "application/json"} if payload else {})
    response = connection.getresponse()
    content = response.read()
    connection.close()
    return response.status, response.getheader("Content-Type", ""), content


def answer(server: ExploreServer, method: str, path: str, body: object = None) -> dict:
    status, kind, content = request(server, method, path, body)
    assert status == 200, content
    assert kind == "application/json"
    return json.loads(content)


def error(server: ExploreServer, method: str, path: str, body: object = None,
          raw: bytes | None = None) -> tuple[int, str]:
    status, kind, content = request(server, method, path, body, raw)
    assert kind == "application/json", (status, content)
    message = json.loads(content)["error"]
    assert "Traceback" not in message and "File \"" not in message
    return status, message


def test_the_page_and_its_files_are_served(served) -> None:
    server, _ = served
    status, kind, page = request(server, "GET", "/")
    assert status == 200 and kind.startswith("text/html")
    assert b'src="/explore.js"' in page and b'href="/explore.css"' in page
    assert b"http" not in page.replace(b"http-equiv", b""), "the page fetches nothing outside"
    for path, kind_start in (("/explore.js", "text/javascript"), ("/explore.css", "text/css")):
        status, kind, content = request(server, "GET", path)
        assert status == 200 and kind.startswith(kind_start) and content


def test_state_orders_dimensions_by_kl_with_ranges_and_the_run_s_scores(served) -> None:
    server, run = served
    state = answer(server, "GET", "/api/state")
    assert state["latent_size"] == run.latent_dim == 10
    kls = [d["kl"] for d in state["dims"]]
    assert sorted(d["dim"] for d in state["dims"]) == list(range(10))
    assert kls == sorted(kls, reverse=True)
    assert all(d["low"] < d["high"] for d in state["dims"])
    assert state["factors"] == ["kind", "colour", "size", "orientation", "row", "col"]
    assert state["splits"] == {"train": 300, "heldout": 100}
    scores = run.summary["disentanglement"]
    assert state["scores"]["headline"]["mig"] == scores["mig"]
    assert state["scores"]["per_factor"] == scores["per_factor"]
    holders = {f["factor"]: d["dim"] for d in state["dims"] for f in d["factors"]}
    assert holders == {factor: entry["dim"] for factor, entry in scores["per_factor"].items()}
    assert len(state["palette"]) == 10


def test_the_map_holds_the_sample_s_means_and_principal_components(served) -> None:
    server, run = served
    points = answer(server, "GET", "/api/map")["points"]
    assert len(points) == 120 and {p["split"] for p in points} == {"train", "heldout"}
    data = run.data()
    sample = points[:5]
    mu, _ = run.encode([data.train[p["index"]] for p in sample])
    np.testing.assert_allclose([p["mu"] for p in sample], mu, atol=1e-4)
    for p in sample:
        assert p["factors"] == [int(data.train_labels[f][p["index"]])
                                for f in data.factors]
    pcs = np.array([p["pc"] for p in points])
    assert abs(pcs.mean(0)).max() < 1e-3 and pcs[:, 0].var() >= pcs[:, 1].var() - 1e-6


@pytest.mark.parametrize("mu, shares", [
    (np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 1.0], [2.0, 1.0]]), [0.8, 0.2]),  # 4 : 1
    (np.array([[1.0], [3.0]]), [1.0, 0.0]),            # one dimension: no second component
    (np.array([[1.0, 2.0], [1.0, 2.0]]), [0.0, 0.0]),  # identical codes: no variance at all
])
def test_principal_components_and_their_shares_by_hand(mu, shares) -> None:
    projected, explained = _principal_components(mu)
    assert projected.shape == (len(mu), 2)
    np.testing.assert_allclose(explained, shares)
    np.testing.assert_allclose(projected.var(0), [s * mu.var(0).sum() for s in shares],
                               atol=1e-12)


def test_a_grid_comes_with_its_code_and_the_reconstruction_load_run_gives(served) -> None:
    server, run = served
    found = answer(server, "GET", "/api/grid?split=heldout&index=7")
    grid = run.data().heldout[7]
    assert found["grid"] == grid.tolist()
    mu, _ = run.encode([grid])
    np.testing.assert_array_equal(np.float32(found["code"]), mu[0])
    assert found["reconstruction"] == run.reconstruct([grid])[0].tolist()
    assert set(found["labels"]) >= {"kind", "colour", "row", "col"}


def test_decode_and_interpolate_equal_load_run_decode(served) -> None:
    server, run = served
    codes = np.random.default_rng(0).normal(size=(3, 10)).astype(np.float32)
    grids = answer(server, "POST", "/api/decode", {"codes": codes.tolist()})["grids"]
    assert grids == [g.tolist() for g in run.decode(codes)]
    line = answer(server, "POST", "/api/interpolate",
                  {"a": codes[0].tolist(), "b": codes[1].tolist(), "steps": 5})
    assert len(line["codes"]) == len(line["grids"]) == 5
    np.testing.assert_array_equal(np.float32(line["codes"][0]), codes[0])
    np.testing.assert_array_equal(np.float32(line["codes"][-1]), codes[1])
    np.testing.assert_allclose(line["codes"][2], (codes[0] + codes[1]) / 2, atol=1e-6)
    assert line["grids"] == [g.tolist() for g in run.decode(np.float32(line["codes"]))]


def test_a_painted_grid_is_encoded_and_reconstructed(served) -> None:
    server, run = served
    painted = [[0, 0, 3], [0, 3, 3]]
    found = answer(server, "POST", "/api/encode", {"grid": painted})
    mu, _ = run.encode([np.array(painted)])
    np.testing.assert_array_equal(np.float32(found["code"]), mu[0])
    assert found["reconstruction"] == run.reconstruct([np.array(painted)])[0].tolist()


def test_find_and_random_pick_grids_by_their_labels(served) -> None:
    server, run = served
    data = run.data()
    colour = int(data.train_labels["colour"][11])
    found = answer(server, "GET", f"/api/find?split=train&colour={colour}")
    first = int(np.flatnonzero(np.asarray(data.train_labels["colour"]) == colour)[0])
    assert found["index"] == first and found["labels"]["colour"] == colour
    picked = answer(server, "GET", "/api/random?split=heldout")
    assert 0 <= picked["index"] < 100
    assert picked["grid"] == data.heldout[picked["index"]].tolist()


BAD_REQUESTS = [
    ("GET", "/api/grid?split=heldout&index=100", None, 400, "index 100 is out of range"),
    ("GET", "/api/grid?split=heldout&index=-1", None, 400, "out of range"),
    ("GET", "/api/grid?split=heldout&index=two", None, 400, "expected a whole number"),
    ("GET", "/api/grid?split=test&index=0", None, 400, "expected one of train, heldout"),
    ("GET", "/api/grid?index=0", None, 400, "missing parameter 'split'"),
    ("GET", "/api/find?split=train&shape=9", None, 400, "no label 'shape'"),
    ("GET", "/api/find?split=train&colour=99", None, 404, "no train grid has colour=99"),
    ("POST", "/api/decode", {"codes": [[0.0] * 9]}, 400, "expected latents of shape (N, 10)"),
    ("POST", "/api/decode", {"codes": [[0.0] * 11]}, 400, "got (1, 11)"),
    ("POST", "/api/decode", {"codes": [["a"] * 10]}, 400, "must be numbers"),
    ("POST", "/api/decode", {}, 400, "takes {\"codes\""),
    ("POST", "/api/encode", {"grid": [[12, 0], [0, 0]]}, 400, "colours outside 0-9"),
    ("POST", "/api/encode", {"grid": [[0] * 31]}, 400, "sides from 1 to 30"),
    ("POST", "/api/encode", {"grid": [[0] * 30] * 31}, 400, "sides from 1 to 30"),
    ("POST", "/api/encode", {"grid": [[0, 1], [2]]}, 400, "ragged"),
    ("POST", "/api/encode", {"grid": [[0.5]]}, 400, "not a whole number"),
    ("POST", "/api/interpolate", {"a": [0.0] * 10, "b": [0.0] * 10, "steps": 1}, 400,
     "steps = 1"),
    ("POST", "/api/interpolate", {"a": [0.0] * 10, "b": [0.0] * 4}, 400, "b: expected"),
    ("POST", "/api/decode", [1, 2], 400, "must be a JSON object"),
    ("GET", "/api/decode", None, 405, "wrong method"),
    ("POST", "/api/nothing", {}, 404, "not found"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "message"), BAD_REQUESTS,
                         ids=[f"{m} {p} {b}"[:70] for m, p, b, *_ in BAD_REQUESTS])
def test_bad_requests_get_a_4xx_with_a_message(served, method, path, body, status,
                                               message) -> None:
    server, _ = served
    got_status, got_message = error(server, method, path, body)
    assert got_status == status and message in got_message, got_message


@pytest.mark.parametrize("raw", [b"{\"codes\": [[NaN, 0, 0, 0, 0, 0, 0, 0, 0, 0]]}",
                                 b"{\"codes\": [[Infinity, 0, 0, 0, 0, 0, 0, 0, 0, 0]]}",
                                 b"{\"codes\": [[1e999, 0, 0, 0, 0, 0, 0, 0, 0, 0]]}",
                                 b"not json", b"\xff\xfe"])
def test_bodies_that_are_not_strict_json_are_refused(served, raw) -> None:
    server, _ = served
    status, message = error(server, "POST", "/api/decode", raw=raw)
    assert status == 400 and ("JSON" in message or "finite" in message), message


@pytest.mark.parametrize("path", ["/../config.toml", "/..%2fconfig.toml", "/static/../summary.json",
                                  "//etc/passwd", "/etc/passwd", "/explore.js/../../best.pt",
                                  "/index.html", "/static/explore.js", "/%2e%2e/metrics.jsonl"])
def test_no_path_reaches_a_file_outside_the_page(served, path) -> None:
    server, _ = served
    status, message = error(server, "GET", path)
    assert status == 404, (path, message)


def test_an_unsupported_method_is_json_too(served) -> None:
    server, _ = served
    status, message = error(server, "DELETE", "/api/state")
    assert status == 501 and "Unsupported method" in message


def test_it_binds_to_127_0_0_1_unless_told_otherwise() -> None:
    args = build_parser().parse_args(["explore", "runs/x"])
    assert args.host == "127.0.0.1" and args.port == 8765 and not args.open_browser


def test_a_bad_run_directory_is_one_error_before_anything_is_served(tmp_path, capsys) -> None:
    assert main(["explore", str(tmp_path / "missing")]) == 2
    missing = tmp_path / "missing"
    assert capsys.readouterr().err.strip() == f"error: {missing}: no such run directory"
    (tmp_path / "empty").mkdir()
    assert main(["explore", str(tmp_path / "empty"), "--port", "0"]) == 2
    assert "not a vaeframe run directory" in capsys.readouterr().err


def test_a_run_without_a_checkpoint_is_one_error(shapes_run, tmp_path, capsys) -> None:
    copy = tmp_path / "run"
    copy.mkdir()
    for name in ("config.toml", "summary.json"):
        (copy / name).write_bytes((shapes_run / name).read_bytes())
    assert main(["explore", str(copy), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "no best checkpoint" in err, err


def test_bad_flags_are_one_error_naming_the_flag(shapes_run, capsys) -> None:
    assert main(["explore", str(shapes_run), "--port", "70000"]) == 2
    assert "--port 70000: expected a port from 0 to 65535" in capsys.readouterr().err
    assert main(["explore", str(shapes_run), "--map-grids", "0"]) == 2
    assert "--map-grids 0" in capsys.readouterr().err
    assert main(["explore", str(shapes_run), "--device", "tpu"]) == 2
    assert "--device" in capsys.readouterr().err


def test_a_run_stopped_before_its_first_best_is_explored_from_its_last_checkpoint(
        shapes_run, tmp_path, capsys) -> None:
    from vaeframe.explore.command import chosen_checkpoint

    assert chosen_checkpoint(shapes_run, None) == "best"
    copy = tmp_path / "run"
    copy.mkdir()
    for path in shapes_run.rglob("*"):
        if path.is_file() and path.name != "best.pt":
            (copy / path.relative_to(shapes_run)).parent.mkdir(parents=True, exist_ok=True)
            (copy / path.relative_to(shapes_run)).write_bytes(path.read_bytes())
    assert chosen_checkpoint(copy, None) == "last"
    assert "has no best checkpoint yet; exploring its last one" in capsys.readouterr().err
    run = vf.load_run(copy, "last")
    session = ExploreSession(run, run.data(), per_split=20)
    assert session.state()["checkpoint"] == "last.pt"
    assert chosen_checkpoint(copy, "best") == "best"
