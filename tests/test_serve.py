"""``stemsim serve``: the local web page (classifiers/serve.py).

Through FastAPI's TestClient: the predictions are ``stemsim predict``'s, oversize and unreadable
files and bad requests get one-line messages (never a traceback), a bad run stops the start,
the default address is 127.0.0.1, and a two_stage run's maps are those ``predict --maps`` writes.
In a real browser (headless Chromium from the Debian packages, driven by Selenium): the page
shows the prediction of an uploaded image and the error of a non-image, and renders (a
screenshot check). Without Chromium the browser test is skipped, except in CI (``CI`` set).
"""

import base64
import csv
import inspect
import io
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from cli_runner import run
from conftest_classifiers import run_cli, write_stemsim_arrays
from PIL import Image

from stemsim.classifiers import serve as serve_module
from stemsim.classifiers.serve import MAX_FILE_BYTES, create_app, load_runs

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def geo(tmp_path_factory):
    """A tiny geometric run (2 s) on stripes, and one test image of it as a PNG."""
    from stemsim.classifiers.training import train

    base = tmp_path_factory.mktemp("serve")
    data = write_stemsim_arrays(base / "stripes", size=32, counts=(24, 8, 8))
    run_dir = train({"model": {"name": "geometric", "min_samples_leaf": 4, "iterations": 20},
                     "data": {"kind": "stemsim", "path": str(data)}, "seed": 1}, base / "geo", verbose=0)
    image = base / "stripes.png"
    Image.fromarray(np.load(data / "arrays" / "test-00000.npz")["images"][0]).save(image)
    notes = base / "notes.txt"
    notes.write_text("not an image\n")
    return {"run": Path(run_dir), "image": image, "notes": notes}


@pytest.fixture(scope="module")
def client(geo):
    from fastapi.testclient import TestClient

    return TestClient(create_app(load_runs([geo["run"]])), base_url="http://127.0.0.1")


def predicted(run_dir: Path, image: Path, capsys) -> dict:
    """``stemsim predict RUN IMAGE``'s row: {label, p_<class>: text}."""
    code, out, err = run_cli(["predict", run_dir, image], capsys)
    assert code == 0, err
    (row,) = list(csv.DictReader(io.StringIO(out)))
    return row


def upload(client, *files: Path, run: str = "0", **fields):
    return client.post(f"/api/predict?run={run}", data=fields,
                       files=[("files", (f.name, f.read_bytes())) for f in files])


def one_line_error(response) -> str:
    body = response.json()
    assert set(body) == {"error"} and "\n" not in body["error"] and "Traceback" not in response.text
    return body["error"]


def test_the_page_predicts_what_stemsim_predict_prints(client, geo, capsys):
    page = client.get("/")
    assert page.status_code == 200 and '<input id="files" type="file" multiple>' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name in ("page.js", "page.css"):
        assert client.get(f"/static/{name}").status_code == 200
    assert client.get("/api/runs").json()["runs"][0]["classes"] == ["horizontal", "vertical"]
    response = upload(client, geo["image"])
    assert response.status_code == 200
    (result,) = response.json()["results"]
    row = predicted(geo["run"], geo["image"], capsys)
    assert result["file"] == "stripes.png" and result["error"] is None and result["label"] == row["label"]
    assert {c: f"{p:.6f}" for c, p in result["probabilities"].items()} == \
           {c: row[f"p_{c}"] for c in ("horizontal", "vertical")}
    assert result["preview"].startswith("data:image/png;base64,") and result["maps"] is None


def test_an_oversize_upload_is_refused_with_413_and_one_line(geo):
    from fastapi.testclient import TestClient

    assert MAX_FILE_BYTES == 64 << 20
    small = TestClient(create_app(load_runs([geo["run"]]), max_file_bytes=1000, max_request_bytes=100_000),
                       base_url="http://127.0.0.1")
    assert geo["image"].stat().st_size > 1000
    response = upload(small, geo["image"])
    assert response.status_code == 413
    assert one_line_error(response) == "stripes.png: 0.0 MiB, over the limit of 0.0 MiB per file"
    big = geo["image"].parent / "big.png"
    big.write_bytes(b"\0" * 200_000)
    response = upload(small, big)
    assert response.status_code == 413
    assert one_line_error(response).startswith("the upload is 0.2 MiB; the limit is 0.1 MiB at once")


def test_a_non_image_gets_its_message_and_the_others_are_predicted(client, geo):
    response = upload(client, geo["notes"], geo["image"])
    assert response.status_code == 200 and "Traceback" not in response.text
    bad, good = response.json()["results"]
    assert bad["error"] == "notes.txt: not a readable image (cannot identify image file 'notes.txt')"
    assert bad["label"] is None and good["error"] is None and good["label"] in ("horizontal", "vertical")
    assert "stemsim-serve-" not in response.text  # no temporary path leaks into a message


def test_bad_requests_get_one_line_json(client, geo):
    assert client.post("/api/predict", data={"x": "1"}).status_code == 400
    response = upload(client, geo["image"], run="7")
    assert response.status_code == 404 and one_line_error(response) == "no run '7' here (runs: 0)"
    response = upload(client, geo["image"], pixel_size="abc")
    assert response.status_code == 400 and "expected a positive number of nm per pixel" in one_line_error(response)
    response = client.get("/static/serve.py")
    assert response.status_code == 404 and one_line_error(response)
    # DNS rebinding: a page served under another name is not answered
    assert client.get("/api/runs", headers={"host": "evil.example"}).status_code == 400


def test_a_bug_answers_500_without_a_traceback(geo, monkeypatch):
    from fastapi.testclient import TestClient

    def broken(*args, **kwargs):
        raise RuntimeError("secret detail /home/someone")

    monkeypatch.setattr("stemsim.classifiers.prediction.predict_files", broken)
    client = TestClient(create_app(load_runs([geo["run"]])), base_url="http://127.0.0.1",
                        raise_server_exceptions=False)
    response = upload(client, geo["image"])
    assert response.status_code == 500
    assert one_line_error(response) == "internal error (RuntimeError); the server's log has the details"
    assert "secret" not in response.text


def test_the_default_address_is_loopback_and_a_bad_run_stops_the_start(geo, tmp_path, capsys):
    assert inspect.signature(serve_module.serve).parameters["host"].default == "127.0.0.1"
    assert inspect.signature(serve_module.serve_command).parameters["host"].default == "127.0.0.1"
    code, _, err = run_cli(["serve", tmp_path / "nowhere"], capsys)
    assert (code, err) == (2, f"stemsim: error: {tmp_path / 'nowhere'}: no such run directory\n")
    code, _, err = run_cli(["serve", geo["run"], tmp_path], capsys)
    assert (code, err) == (2, f"stemsim: error: {tmp_path}: not a run directory (config.yaml is missing)\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = run_cli(["serve", geo["run"], "--port", port], capsys)
    assert code == 2 and err.startswith(f"stemsim: error: 127.0.0.1:{port}: cannot listen there (")
    assert len(err.splitlines()) == 1


def test_a_two_stage_run_shows_the_maps_predict_writes(tmp_path, capsys):
    """The maps on the page are the files of ``predict --maps`` (a 1-epoch U-Net, ~10 s)."""
    from fastapi.testclient import TestClient

    from stemsim.classifiers.training import train
    from test_pixelwise import SPEC

    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({**SPEC, "classes": {"values": [0, 2], "per_class": 10}}))
    assert run("generate", spec, "--out", tmp_path / "cubes", "--jobs", 1) == 0
    capsys.readouterr()
    run_dir = train({"model": {"name": "two_stage", "min_samples_leaf": 2, "unet_epochs": 1, "unet_depth": 2,
                               "unet_images": 8, "unet_val_images": 4, "iterations": 10},
                     "data": {"kind": "stemsim", "path": str(tmp_path / "cubes")}, "seed": 1},
                    tmp_path / "two_stage", verbose=0)
    image = tmp_path / "cube.png"
    Image.fromarray(np.load(next((tmp_path / "cubes" / "arrays").glob("test-*.npz")))["images"][0]).save(image)
    client = TestClient(create_app(load_runs([run_dir])), base_url="http://127.0.0.1")
    (result,) = upload(client, image).json()["results"]
    code, _, err = run_cli(["predict", run_dir, image, "--maps", tmp_path / "maps"], capsys)
    assert code == 0, err
    for name in ("mask", "vertices"):
        shown = Image.open(io.BytesIO(base64.b64decode(result["maps"][name].split(",", 1)[1])))
        assert np.array_equal(np.asarray(shown), np.asarray(Image.open(tmp_path / "maps" / f"cube.{name}.png")))
    thickness = np.asarray(Image.open(tmp_path / "maps" / "cube.thickness.tif"))
    assert result["maps"]["thickness_max_nm"] == pytest.approx(float(thickness.max()), abs=1e-3)


# ---- in a real browser ----------------------------------------------------------------


@pytest.fixture
def browser():
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("the selenium package")
    if missing:
        why = (f"the browser test needs {', '.join(missing)} "
               "(apt-get install chromium chromium-driver; pip install selenium)")
        if os.environ.get("CI"):
            pytest.fail(f"{why}: in CI it must run")
        pytest.skip(why)
    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1200,900"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


@pytest.fixture
def server(geo):
    """``stemsim serve RUN --port 0`` in a subprocess; its page's URL."""
    process = subprocess.Popen([sys.executable, "-m", "stemsim.cli", "serve", str(geo["run"]), "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    url, deadline = None, time.monotonic() + 60
    while url is None and time.monotonic() < deadline and process.poll() is None:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        if line.startswith("serving at "):
            url = line.split()[2]
    try:
        assert url is not None, f"the server did not start: {process.stderr.read() if process.poll() else ''}"
        assert url.startswith("http://127.0.0.1:")  # the default address: this machine only
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert "Traceback" not in process.stderr.read()


def test_in_a_browser_the_page_shows_the_prediction(browser, server, geo, tmp_path, capsys):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    expected = predicted(geo["run"], geo["image"], capsys)
    browser.get(server)
    wait = WebDriverWait(browser, 30)
    wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#run option")))
    browser.find_element(By.ID, "files").send_keys(f"{geo['image']}\n{geo['notes']}")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".result")) == 2)
    card = browser.find_element(By.CSS_SELECTOR, '.result[data-file="stripes.png"]')
    assert card.find_element(By.CSS_SELECTOR, ".label-value").text == expected["label"]
    shown = {row.get_attribute("data-class"): row.find_element(By.CSS_SELECTOR, "td.p").text
             for row in card.find_elements(By.CSS_SELECTOR, "table.probs tr")}
    assert shown == {c: expected[f"p_{c}"] for c in ("horizontal", "vertical")}
    assert browser.execute_script("return arguments[0].querySelector('img').naturalWidth", card) == 32
    error = browser.find_element(By.CSS_SELECTOR, '.result[data-file="notes.txt"] .error').text
    assert error == "notes.txt: not a readable image (cannot identify image file 'notes.txt')"
    assert "Traceback" not in browser.page_source
    # the screenshot: a real rendering of the window, and the result card is not one flat colour
    path = tmp_path / "page.png"
    assert browser.save_screenshot(str(path))
    screenshot = Image.open(path)
    width, height, ratio = browser.execute_script("return [window.innerWidth, window.innerHeight, "
                                                  "window.devicePixelRatio]")
    assert screenshot.size == (round(width * ratio), round(height * ratio))
    pixels = np.asarray(screenshot.convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50 and pixels.std() > 10
    crop = np.asarray(Image.open(io.BytesIO(card.screenshot_as_png)).convert("L"), np.float32)
    assert crop.size > 100 * 100 and crop.std() > 20
