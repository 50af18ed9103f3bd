"""`specc serve`: the real server on 127.0.0.1 (a free port), real HTTP requests, answers
compared with `specc predict` on the same rows, and bad requests refused with a 4xx while the
server keeps serving.

The runs are tiny 1-epoch runs on a small CSV file (numbers, a category, a class name and a
value), trained once per module. Most tests serve them from a uvicorn server in a thread of
this process (TensorFlow is imported once); the command line itself, SIGTERM and the ONNX
server (which must not import TensorFlow) run in processes of their own.
"""
from __future__ import annotations

import csv
import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import cli, train_run

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

COLORS = ["red", "green", "blue"]
SPECS = {
    "classifier": "task: {type: multiclass, classes: 2}\n"
                  "data: {source: {csv: {path: t.csv, label: kind, features: [a, b, c]}}, "
                  "split: {validation: 0.2, test: 0.2}}\n"
                  "model: {inputs: {x: [3]}, layers: [{dense: {units: 4, activation: relu}}]}\n",
    "regression": "task: {type: regression}\n"
                  "data: {source: {csv: {path: t.csv, label: y, features: [a, b, c]}}, "
                  "split: {validation: 0.2, test: 0.2}}\n"
                  "model: {inputs: {x: [3]}, layers: [{dense: {units: 4, activation: relu}}]}\n",
    "categorical": "task: {type: multiclass, classes: 2}\n"
                   "data: {source: {csv: {path: t.csv, label: kind, features: {x: [a, b], color: [color]}, "
                   "categorical: [color]}}, split: {validation: 0.2, test: 0.2}}\n"
                   "model:\n  inputs: {x: [2], color: {shape: [1], dtype: string}}\n  nodes:\n"
                   "    ids: {string_lookup: {vocabulary: [red, green, blue], output_mode: one_hot}, from: color}\n"
                   "    flat: {flatten: {}, from: ids}\n    joined: {concatenate: {}, from: [x, flat]}\n"
                   "    out: {dense: {units: 4, activation: relu}, from: joined}\n"
                   "  outputs: {output: out}\n  head: auto\n",
    "autoencoder": "task: {type: autoencoder}\n"
                   "data: {source: {csv: {path: t.csv, label: kind, features: [a, b, c]}}, "
                   "split: {validation: 0.2, test: 0.2}}\n"
                   "model:\n  encoder: {inputs: {x: [3]}, layers: [{dense: {units: 2}}]}\n"
                   "  decoder: {layers: [{dense: {units: 3}}]}\n",
}


def table_rows(count: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(count):
        a, b, c = (round(float(v), 4) for v in rng.uniform(size=3))
        rows.append({"a": a, "b": b, "c": c, "color": str(rng.choice(COLORS)),
                     "kind": "yes" if a + b > 1 else "no", "y": round(2 * a + b - c, 4)})
    return rows


def write_rows(path: Path, rows: list, columns: list) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows([[row[name] for name in columns] for row in rows])


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """kind -> its trained run (1 epoch each)."""
    folder = tmp_path_factory.mktemp("serve-runs")
    write_rows(folder / "t.csv", table_rows(60, 0), ["a", "b", "c", "color", "kind", "y"])
    trained = {}
    for kind, body in SPECS.items():
        (folder / f"{kind}.yaml").write_text(f"specc: 1\nname: serve-{kind}\nseed: 1\n{body}train: {{epochs: 1}}\n",
                                             encoding="utf-8")
        trained[kind] = train_run(folder / f"{kind}.yaml", folder / "runs", "--no-export")
    return trained


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def served(run, fmt: str = "keras", options: dict = None, **settings):
    """The run served by uvicorn in a thread of this process, on a free port; its base URL."""
    from specc.serve.predictors import open_predictor, warm_up

    predictor = open_predictor(str(run.path), fmt, options=options)
    warm_up(predictor)
    with served_predictor(predictor, **settings) as url:
        yield url


@contextmanager
def served_predictor(predictor, **settings):
    """A predictor served by uvicorn in a thread of this process, on a free port; its base URL."""
    import uvicorn

    from specc.serve.app import Settings, make_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(make_app(predictor, Settings(**settings)), host="127.0.0.1",
                                           port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, 30)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(30)


def wait_ready(url: str, seconds: float, process=None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the server ended: {process.stderr.read()}")
        try:
            if request(url + "/health")[0] == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"no server at {url} after {seconds} s")


def request(url: str, body=None, raw: bytes = None, timeout: float = 30) -> tuple:
    """(status, parsed JSON or text) of a GET, or of a POST of `body` as JSON (or `raw` bytes)."""
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        status, text = err.code, err.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def specc_predict(run, rows: list, columns: list, folder: Path) -> list:
    """`specc predict` on a CSV file of the rows: one dict per row, numbers as numbers."""
    given, out = folder / "given.csv", folder / "predicted.csv"
    write_rows(given, rows, columns)
    result = cli("predict", run.path, "--input", given, "--output", out, "--force")
    assert result.exit_code == 0, result.output
    with open(out, encoding="utf-8") as handle:
        return [{k: _number(v) for k, v in row.items() if k != "row"} for row in csv.DictReader(handle)]


def _number(text: str):
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


INPUTS = {"classifier": ["a", "b", "c"], "regression": ["a", "b", "c"], "categorical": ["a", "b", "color"],
          "autoencoder": ["a", "b", "c"]}


# --- answers are specc predict's ------------------------------------------------------------

@pytest.mark.parametrize("kind", list(SPECS))
def test_answers_are_those_of_specc_predict(runs, kind, tmp_path):
    rows = table_rows(12, 1)
    columns = INPUTS[kind]
    sent = [{name: row[name] for name in columns} for row in rows]
    expected = specc_predict(runs[kind], rows, columns, tmp_path)
    with served(runs[kind]) as url:
        status, batch = request(url + "/predict", sent)
        assert status == 200, batch
        singles = [request(url + "/predict", row)[1]["predictions"][0] for row in sent[:3]]
    assert batch["run_id"] == runs[kind].run_id
    got = batch["predictions"]
    assert [list(row) for row in got] == [list(row) for row in expected]
    for answer, wanted in zip(got + singles, expected + expected[:3]):
        for name, value in wanted.items():
            if isinstance(value, float):
                assert math.isclose(answer[name], value, rel_tol=1e-5, abs_tol=1e-6), (name, answer, wanted)
            else:
                assert answer[name] == value, (name, answer, wanted)


def test_a_few_shot_run_answers_with_its_support_set_as_specc_predict(tmp_path):
    """`--with support=FILE`: the support classes nearest each row, as `specc predict` names
    them with the same support set (a 1-epoch run of the shipped few-shot spec); the support
    set is read once, when the server starts."""
    from sklearn.datasets import load_digits

    from tests.conftest import ROOT

    run = train_run(ROOT / "specs" / "protonet-digits.yaml", tmp_path / "runs", "--no-export", "--set",
                    "train.epochs=1", "--set", "task.episodes=5", "--set", "train.checkpoints.every_seconds=0")
    digits = load_digits()
    x, y = digits.data.astype("float32"), digits.target
    support = np.concatenate([np.flatnonzero(y == d)[:3] for d in (5, 6, 7)])
    np.savez(tmp_path / "support.npz", x=x[support].reshape(-1, 8, 8, 1), y=np.array(["five", "six", "seven"])[
        y[support] - 5])
    columns = [f"pixel_{i}_{j}" for i in range(8) for j in range(8)]
    rows = [dict(zip(columns, map(float, x[i]))) for i in np.flatnonzero(y >= 5)[20:30]]
    given, out = tmp_path / "given.csv", tmp_path / "predicted.csv"
    write_rows(given, rows, columns)
    result = cli("predict", run.path, "--input", given, "--output", out, "--with", f"support={tmp_path / 'support.npz'}")
    assert result.exit_code == 0, result.output
    with open(out, encoding="utf-8") as handle:
        expected = [{k: _number(v) for k, v in row.items() if k != "row"} for row in csv.DictReader(handle)]
    with served(run, options={"support": str(tmp_path / "support.npz")}) as url:
        (tmp_path / "support.npz").unlink()  # read once at start-up, not per batch
        status, answer = request(url + "/predict", rows)
    assert status == 200, answer
    got = answer["predictions"]
    assert [list(row) for row in got] == [list(row) for row in expected]
    assert list(got[0])[:2] == ["predicted", "distance_five"]
    for answered, wanted in zip(got, expected):
        assert answered["predicted"] == wanted["predicted"]
        for name, value in wanted.items():
            if name != "predicted":
                assert math.isclose(answered[name], value, rel_tol=1e-5, abs_tol=1e-6), (name, answered, wanted)


def test_the_families_answer_with_their_own_columns(runs):
    with served(runs["autoencoder"]) as url:
        status, answer = request(url + "/predict", {"a": 0.1, "b": 0.2, "c": 0.3})
    assert status == 200 and set(answer["predictions"][0]) == {"reconstruction_error", "anomaly"}


def test_health_and_metadata(runs):
    with served(runs["categorical"]) as url:
        assert request(url + "/health") == (200, {"status": "ok"})
        status, meta = request(url + "/metadata")
    assert status == 200
    assert meta["spec"] == "serve-categorical" and meta["run_id"] == runs["categorical"].run_id
    assert meta["inputs"] == [{"name": "a", "type": "number"}, {"name": "b", "type": "number"},
                              {"name": "color", "type": "string"}]
    assert meta["outputs"] == ["predicted", "probability_0", "probability_1"]
    assert {"specc", "python", "tensorflow", "keras", "starlette", "uvicorn"} <= set(meta["versions"])
    assert meta["format"] == "keras" and meta["artifact"] == "best.keras"


# --- bad requests -------------------------------------------------------------------------

GOOD = {"a": 0.5, "b": 0.25, "color": "red"}
BAD = [
    ("malformed JSON", b'{"a": 0.5, "b":', 400, "the body is not JSON: "),
    ("not rows", b'"hello"', 422, "the body is the string 'hello': send one row as a JSON object"),
    ("no rows", b"[]", 422, "the body is an empty list: send at least one row"),
    ("a row not an object", b"[1, 2]", 422, "row 0 is a number, not an object of column name -> value"),
    ("a missing column", b'{"a": 0.5, "colour": "red"}', 422, "row 0: no columns 'b', 'color' (did you mean 'colour'?)"),
    ("an extra column", b'{"a": 0.5, "b": 0.25, "color": "red", "kind": "yes"}', 422,
     "row 0: column 'kind' is not an input of the model"),
    ("a string in a numeric field", b'[{"a": 0.5, "b": 0.25, "color": "red"}, {"a": "0.5x", "b": 1, "color": "red"}]',
     422, "row 1, column 'a': the string '0.5x', expected a number"),
    ("a number in a categorical field", b'{"a": 0.5, "b": 0.25, "color": 3}', 422,
     "row 0, column 'color': a number, expected a string (the column holds categories)"),
    ("a list where a number goes", b'{"a": [0.5, 1], "b": 0.25, "color": "red"}', 422,
     "row 0, column 'a': a list, expected a number"),
    ("null", b'{"a": null, "b": 0.25, "color": "red"}', 422, "row 0, column 'a': null, expected a number"),
    ("a boolean", b'{"a": true, "b": 0.25, "color": "red"}', 422, "row 0, column 'a': a boolean, expected a number"),
    ("NaN", b'{"a": NaN, "b": 0.25, "color": "red"}', 422, "row 0, column 'a': nan is not a finite number"),
    ("infinity", b'{"a": 0.5, "b": -Infinity, "color": "red"}', 422, "row 0, column 'b': -inf is not a finite number"),
    ("an overflowing number", b'{"a": 1e999, "b": 0.25, "color": "red"}', 422, "row 0, column 'a': inf is not a finite"),
    ("an empty category", b'{"a": 0.5, "b": 0.25, "color": " "}', 422, "row 0, column 'color': is empty"),
    ("a control character in a name", b'{"a": 0.5, "b": 0.25, "color": "red", "\\u001b[2J": 1}', 422,
     "row 0: column a name of 4 characters is not an input of the model"),
]


def batches_predicted(url: str) -> int:
    text = request(url + "/metrics")[1]
    return int(next(line.split()[-1] for line in text.splitlines() if line.startswith("specc_batch_rows_count")))


def test_bad_requests_get_a_4xx_that_names_the_column_and_the_server_goes_on(runs):
    with served(runs["categorical"]) as url:
        before = batches_predicted(url)
        for what, body, status, message in BAD:
            got, answer = request(url + "/predict", raw=body)
            assert got == status, (what, answer)
            assert answer["error"].startswith(message), (what, answer)
        assert batches_predicted(url) == before   # nothing the schema refuses reached the model
        status, answer = request(url + "/predict", GOOD)
        assert status == 200 and answer["predictions"][0]["predicted"] in ("no", "yes")
        _, metrics = request(url + "/metrics")
    assert f'specc_requests_total{{route="/predict",status="422"}} {sum(s == 422 for *_, s, _ in BAD)}' in metrics
    assert "specc_request_errors_total" in metrics and 'specc_predict_latency_seconds_bucket{le="+Inf"}' in metrics


def test_a_body_over_the_limit_is_refused_unread(runs):
    rows = json.dumps([GOOD] * 270_000).encode()
    assert len(rows) > 10_000_000
    with served(runs["categorical"]) as url:
        status, answer = request(url + "/predict", raw=rows)
        assert status == 413 and answer["error"] == f"the body is larger than {1 << 20} bytes"
        assert chunked(url + "/predict", rows) == 413   # no Content-Length: counted as it comes
        assert request(url + "/predict", GOOD)[0] == 200


def chunked(url: str, body: bytes) -> int:
    """The status of a POST of `body` in 64 kB chunks, without a Content-Length."""
    import http.client
    from urllib.parse import urlparse

    where = urlparse(url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    parts = (body[i:i + 65536] for i in range(0, len(body), 65536))
    try:
        connection.request("POST", where.path, body=parts, encode_chunked=True,
                           headers={"Content-Type": "application/json"})
    except (BrokenPipeError, ConnectionResetError):
        pass   # the server answered and closed before the whole body was sent
    status = connection.getresponse().status
    connection.close()
    return status


# --- micro-batching, the bounded queue, graceful shutdown ---------------------------------

class Slow:
    """A predictor that takes `seconds` more per model call (a busy model)."""

    def __init__(self, predictor, seconds: float) -> None:
        self.inner, self.seconds, self.schema = predictor, seconds, predictor.schema

    def predict(self, rows: list) -> list:
        time.sleep(self.seconds)
        return self.inner.predict(rows)

    def metadata(self) -> dict:
        return self.inner.metadata()


def concurrently(url: str, bodies: list) -> list:
    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(lambda body: request(url + "/predict", body), bodies))


def test_concurrent_requests_share_model_calls_with_the_same_answers(runs):
    from specc.serve.predictors import open_predictor

    predictor = open_predictor(str(runs["regression"].path))
    rows = [{k: row[k] for k in ("a", "b", "c")} for row in table_rows(16, 2)]
    alone = predictor.predict(rows)
    with served_predictor(predictor, max_batch=64, max_wait_ms=200) as url:
        answers = concurrently(url, rows)
        calls = batches_predicted(url)
    assert [status for status, _ in answers] == [200] * len(rows)
    for (_, answer), wanted in zip(answers, alone):
        assert math.isclose(answer["predictions"][0]["prediction"], wanted["prediction"], rel_tol=1e-5, abs_tol=1e-6)
    assert calls < len(rows)   # some requests shared a call


def test_a_full_queue_answers_503_and_below_it_nothing_fails(runs):
    from specc.serve.predictors import open_predictor

    slow = Slow(open_predictor(str(runs["regression"].path)), 0.3)
    row = {"a": 0.1, "b": 0.2, "c": 0.3}
    with served_predictor(slow, max_batch=1, max_queue=2) as url:
        over = concurrently(url, [row] * 10)
        under = concurrently(url, [row] * 2)
        after = request(url + "/predict", row)
    statuses = [status for status, _ in over]
    assert set(statuses) == {200, 503} and statuses.count(200) >= 2
    assert next(a for s, a in over if s == 503)["error"] == "the server is busy: 2 requests are waiting"
    assert [status for status, _ in under] == [200, 200] and after[0] == 200


def test_sigterm_finishes_the_requests_in_flight(runs):
    """`specc serve` itself: a request waiting for its batch when SIGTERM comes is answered."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "specc", "serve", str(runs["regression"].path),
                                "--port", str(port), "--max-wait-ms", "1000"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, 60, process)
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(request, url + "/predict", {"a": 0.1, "b": 0.2, "c": 0.3})
            time.sleep(0.4)   # the request waits up to 1 s for others to join its batch
            process.send_signal(signal.SIGTERM)
            status, answer = pending.result(30)
        assert status == 200 and len(answer["predictions"]) == 1
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode in (0, -signal.SIGTERM)
    assert process.stderr.read().splitlines()[-1] == f"serving on http://127.0.0.1:{port}"


# --- an ONNX export, served by ONNX Runtime alone ----------------------------------------

NO_TENSORFLOW = ("import sys\n"
                 "sys.modules['tensorflow'] = None  # importing it now fails: the server must not\n"
                 "sys.modules['keras'] = None\n"
                 "from specc.cli import main\n"
                 "main(sys.argv[1:])\n")


def exported(run, fmt: str, label: str, folder: Path) -> tuple:
    """Serving the run's `fmt` export is refused until it is exported; then the rows sent and
    `specc predict`'s answers for them."""
    missing = cli("serve", run.path, "--format", fmt)
    assert missing.exit_code == 2 and f"run {run.run_id} has no {label} export" in missing.stderr
    result = cli("export", run.path, "--format", fmt)
    assert result.exit_code == 0, result.output
    rows = table_rows(8, 3)
    sent = [{name: row[name] for name in ("a", "b", "c")} for row in rows]
    return sent, specc_predict(run, rows, ["a", "b", "c"], folder)


def test_an_onnx_export_is_served_without_tensorflow(runs, tmp_path):
    run = runs["classifier"]
    sent, expected = exported(run, "onnx", "ONNX", tmp_path)
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", NO_TENSORFLOW, "serve", str(run.path / "exports"),
                                "--format", "onnx", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, 60, process)
        status, answer = request(url + "/predict", sent)
        meta = request(url + "/metadata")[1]
        refused = request(url + "/predict", {"a": "x", "b": 1, "c": 2})
    finally:
        process.terminate()
        process.wait(30)
    assert status == 200, answer
    assert meta["format"] == "onnx" and "onnxruntime" in meta["versions"] and "tensorflow" not in meta["versions"]
    assert refused[0] == 422 and refused[1]["error"] == "row 0, column 'a': the string 'x', expected a number"
    for got, wanted in zip(answer["predictions"], expected):
        assert got["predicted"] == wanted["predicted"]
        for name in ("probability_0", "probability_1"):
            assert math.isclose(got[name], wanted[name], abs_tol=1e-4)


def test_a_saved_model_export_answers_as_specc_predict(runs, tmp_path):
    """The SavedModel export, called through its serving signature, answers as the run does,
    within the export's own parity tolerance."""
    from specc.export.formats.saved_model import TOLERANCE

    run = runs["classifier"]
    sent, expected = exported(run, "saved_model", "SavedModel", tmp_path)
    with served(run, "saved_model") as url:
        status, answer = request(url + "/predict", sent)
        meta = request(url + "/metadata")[1]
    assert status == 200, answer
    assert meta["format"] == "saved_model" and meta["artifact"] == "saved_model" and "tensorflow" in meta["versions"]
    got = answer["predictions"]
    assert [row["predicted"] for row in got] == [row["predicted"] for row in expected]
    names = ["probability_0", "probability_1"]
    assert list(got[0]) == list(expected[0])
    assert np.allclose([[row[n] for n in names] for row in got], [[row[n] for n in names] for row in expected],
                       rtol=0, atol=TOLERANCE)


def test_onnx_serves_supervised_runs_only(runs):
    result = cli("serve", runs["autoencoder"].path, "--format", "onnx")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: run {runs['autoencoder'].run_id} is an autoencoder run: serving its ONNX export answers "
        "supervised task types only",
        "    hint: serve the run itself (--format keras): its answers come from the Keras model"]


def test_a_received_run_is_served_only_with_consent_to_its_plugins(runs, tmp_path):
    """No code from the run folder runs: a spec that imports a plugin is refused (exit 2), with
    the Keras model and with its ONNX export, unless --trust-plugins is given."""
    import shutil

    run = tmp_path / "received" / "serve-classifier" / runs["classifier"].run_id
    shutil.copytree(runs["classifier"].path, run)
    marker = tmp_path / "code-ran"
    (run / "evil.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    spec = (run / "spec.yaml").read_text()
    assert "plugins: []" in spec
    (run / "spec.yaml").write_text(spec.replace("plugins: []", "plugins: [evil]"))
    record = json.loads((run / "record.json").read_text())
    record.update(spec_file=str(run / "spec.yaml"))
    (run / "record.json").write_text(json.dumps(record))
    for fmt in ("keras", "onnx"):
        result = cli("serve", run, "--format", fmt)
        assert result.exit_code == 2, result.output
        assert "imports Python modules as plugins (evil)" in result.stderr and "--trust-plugins" in result.stderr
    assert not marker.exists()
