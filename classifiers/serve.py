"""``stemsim serve RUN [RUN...]``: a local web page that predicts the images dropped on it.

The page (``classifiers/static/``: one HTML file, a script and a style sheet; no build step,
nothing fetched from elsewhere) sends the files to ``POST /api/predict``, which runs them
through :func:`stemsim.classifiers.prediction.predict_files` — the reader, size limits
(:mod:`stemsim.classifiers.limits`), scaling and preprocessing of ``stemsim predict`` — with the run
chosen on the page, and shows every file's label and probabilities, and for a ``two_stage``
run its predicted maps (mask, thickness, vertices: the images that ``predict --maps`` writes).
Microscope files (.dm4, .emd, ...) are read with their calibration as ``predict`` reads them
(:mod:`stemsim.classifiers.micrographs`: rosettasciio reads paths, so every upload is written to a
temporary file first); the form's ``pixel_size`` is for files that record none, its ``frame``
picks the image of a stack.

Framework: FastAPI on uvicorn, because it is widely used and actively maintained, parses
multipart uploads (python-multipart) and gives a TestClient for the tests, and is small
enough for one JSON endpoint and a static page; Flask would need the same pieces plus a
production WSGI server, and Gradio/Streamlit bring large front ends that fetch assets, hide the
HTTP layer (size limits, error bodies) and are harder to test in a browser.

Every run is opened and its model loaded once, at start-up (a bad run stops it there with
the one-line :class:`~stemsim.errors.InputError`). The server listens on 127.0.0.1 unless
told otherwise, refuses a file over :data:`MAX_FILE_BYTES` (and an upload over
:data:`MAX_REQUEST_BYTES`) with HTTP 413, and answers every error as ``{"error": "one
line"}``: a file it cannot read gets its ``error`` in its result, bad requests get 4xx, and
a bug gets 500 with the exception's type only (the traceback goes to the server's log,
never into a response).
"""

import base64
import io
import logging
import re
import shutil
import socket
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Sequence

import typer

from stemsim.errors import InputError, one_line

MAX_FILE_BYTES = 64 << 20
"""The largest file the page accepts (64 MiB)."""
MAX_REQUEST_BYTES = 256 << 20
"""The largest upload at once (all its files together)."""
MAX_FILES = 64
"""The most files in one upload."""
PREVIEW_SIDE = 256
"""Longest side of the preview of an uploaded image that the page shows."""

log = logging.getLogger("stemsim.serve")


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB"


@dataclass
class ServedRun:
    """A run loaded for serving: its model is loaded once, and predicts one upload at a time."""

    id: str
    run: Any  # stemsim.classifiers.run.Run
    predictor: Any  # stemsim.classifiers.inference.Predictor
    lock: threading.Lock = field(default_factory=threading.Lock)
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def describe(self) -> dict[str, Any]:
        run = self.run
        return {"id": self.id, "name": run.path.name, "path": str(run.path), "model": run.config["model"]["name"],
                "classes": run.classes, "multilabel": run.multilabel, "two_stage": run.two_stage}


def load_runs(run_dirs: Sequence[str | Path], batch_size: int = 32) -> list[ServedRun]:
    """Open every run and load its model; InputError (one line) for the first bad one."""
    from stemsim.classifiers.inference import Predictor
    from stemsim.classifiers.run import open_run

    if not run_dirs:
        raise InputError("serve: give at least one run directory")
    served: list[ServedRun] = []
    seen: dict[Path, Path] = {}
    for i, run_dir in enumerate(run_dirs):
        run = open_run(run_dir)
        key = run.path.resolve()
        if key in seen:
            raise InputError(f"{run_dir}: given twice (as {seen[key]})")
        seen[key] = Path(run_dir)
        item = ServedRun(str(i), run, None)
        item.predictor = Predictor(run, batch_size, item.warn)
        served.append(item)
    return served


def _safe_name(name: str | None) -> str:
    """An uploaded file's name as a plain file name (its suffix kept: it picks the reader)."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = re.sub(r"[^A-Za-z0-9._+-]", "_", base).lstrip(".")[-120:]
    return base or "upload"


def _shown_name(name: str | None) -> str:
    return one_line(re.split(r"[\\/]", name or "")[-1])[:200] or "upload"


def _png_url(array) -> str:
    """A uint8 (H, W) or (H, W, 3) array as a ``data:image/png`` URL."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _preview(path: Path, frame: int | None = None) -> str | None:
    """The uploaded image for display: read as ``predict`` reads it, intensities stretched
    between its 0.5th and 99.5th percentile, shrunk to :data:`PREVIEW_SIDE`."""
    import numpy as np
    from PIL import Image

    from stemsim.classifiers.micrographs import read_micrograph

    try:
        image = read_micrograph(path, frame=frame, require_scale=False).pixels.astype(np.float32)
    except InputError:
        return None
    finite = image[np.isfinite(image)]
    low, high = (np.percentile(finite, [0.5, 99.5]) if finite.size else (0.0, 1.0))
    scaled = np.nan_to_num((image - low) / (high - low if high > low else 1.0), nan=0.0)
    picture = Image.fromarray(np.rint(np.clip(scaled, 0, 1) * 255).astype(np.uint8))
    picture.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    return _png_url(np.asarray(picture))


def _maps(stem: str) -> dict[str, Any]:
    """The maps ``predict --maps`` wrote for one image (``STEM.mask.png``, ``.thickness.tif``,
    ``.vertices.png``, ``.vertices.json``) as images for the page; the thickness (nm) as gray
    from 0 to its maximum."""
    import json

    import numpy as np
    from PIL import Image

    base = Path(stem)
    with Image.open(f"{base}.mask.png") as mask, Image.open(f"{base}.vertices.png") as vertices, \
            Image.open(f"{base}.thickness.tif") as thickness:
        mask_array, vertices_array = np.asarray(mask), np.asarray(vertices.convert("RGB"))
        nm = np.nan_to_num(np.asarray(thickness, np.float32))
    top = float(nm.max()) if nm.size else 0.0
    gray = np.rint(np.clip(nm / top, 0, 1) * 255).astype(np.uint8) if top > 0 else np.zeros(nm.shape, np.uint8)
    peaks = json.loads(Path(f"{base}.vertices.json").read_text())
    return {"mask": _png_url(mask_array), "thickness": _png_url(gray), "thickness_max_nm": round(top, 3),
            "vertices": _png_url(vertices_array), "n_vertices": len(peaks.get("vertices", [])),
            "n_deformed": len(peaks.get("deformed", []))}


def predict_uploads(served: ServedRun, uploads: Sequence[tuple[str | None, Any]],
                    pixel_size: float | None = None, frame: int | None = None) -> dict[str, Any]:
    """Predict uploaded files (``(client file name, binary file object)``) with ``served``:
    ``{"run", "results": [{file, label, probabilities, votes?, pixel_size_nm, error, preview, maps}],
    "warnings"}`` (``pixel_size_nm``: the file's own, or ``pixel_size``; ``frame``: of a stack).

    The files are written under a temporary folder (removed afterwards) and predicted by
    :func:`stemsim.classifiers.prediction.predict_files` with the run's loaded model; every message
    names a file by its uploaded name, never by the temporary path."""
    from stemsim.classifiers.prediction import predict_files

    with tempfile.TemporaryDirectory(prefix="stemsim-serve-") as tmp:
        folder, paths, names = Path(tmp), [], []
        for i, (name, stream) in enumerate(uploads):
            (folder / str(i)).mkdir()
            path = folder / str(i) / _safe_name(name)
            with open(path, "wb") as out:
                shutil.copyfileobj(stream, out)
            paths.append(path)
            names.append(_shown_name(name))

        def clean(text: str) -> str:
            for path, name in zip(paths, names):
                text = text.replace(str(path), name)
            return one_line(text.replace(tmp, "upload"))

        maps_dir = folder / "maps" if served.run.two_stage else None
        with served.lock:  # one prediction at a time per model
            served.warnings.clear()
            rows = predict_files(served.run.path, paths, maps_dir=maps_dir, pixel_size=pixel_size,
                                 warn=served.warn, predictor=served.predictor, frame=frame)
            warnings = [clean(w) for w in served.warnings]
            served.warnings.clear()
        results = []
        for row, path, name in zip(rows, paths, names):
            ok = row["error"] is None
            results.append({"file": name, "label": row["label"], "probabilities": row["probabilities"],
                            **({"votes": row["votes"]} if "votes" in row else {}),
                            "pixel_size_nm": row["pixel_size_nm"], "error": None if ok else clean(row["error"]),
                            "preview": _preview(path, frame) if ok else None,
                            "maps": _maps(row["maps"]) if ok and row.get("maps") else None})
    return {"run": served.describe(), "results": results, "warnings": warnings}


def create_app(served: Sequence[ServedRun], max_file_bytes: int = MAX_FILE_BYTES,
               max_request_bytes: int = MAX_REQUEST_BYTES, allowed_hosts: Sequence[str] | None = None):
    """The FastAPI application serving the page and ``/api`` for the loaded runs.

    ``allowed_hosts``: the ``Host`` headers answered (default: 127.0.0.1, localhost, ::1), so
    that a web site cannot reach the page through DNS rebinding; ``["*"]`` answers any."""
    from importlib.resources import files

    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse, Response
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    runs = {item.id: item for item in served}
    static = files("stemsim.classifiers").joinpath("static")
    assets = {name: (static.joinpath(name).read_text(encoding="utf-8"), kind) for name, kind in
              (("index.html", "text/html"), ("page.js", "text/javascript"), ("page.css", "text/css"))}
    app = FastAPI(title="stemsim", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(TrustedHostMiddleware,
                       allowed_hosts=list(allowed_hosts or ("127.0.0.1", "localhost", "[::1]", "::1")))
    headers = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; "
                                          "frame-ancestors 'none'",
               "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": one_line(message)}, status_code=status, headers=headers)

    @app.exception_handler(HTTPException)
    async def http_error(request, exc):
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request, exc):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return error(422, f"bad request: {where}: {first.get('msg', 'invalid')}")

    @app.exception_handler(Exception)
    async def internal_error(request, exc):  # the traceback goes to the log only
        log.error("internal error on %s", request.url.path, exc_info=exc)
        return error(500, f"internal error ({type(exc).__name__}); the server's log has the details")

    @app.get("/", response_class=HTMLResponse)
    def page():
        return Response(assets["index.html"][0], media_type="text/html", headers=headers)

    @app.get("/favicon.ico")
    def favicon():
        return Response(status_code=204)

    @app.get("/static/{name}")
    def asset(name: str):
        if name not in assets or name == "index.html":
            raise HTTPException(404, f"no such file: {name[:80]}")
        text, kind = assets[name]
        return Response(text, media_type=kind, headers=headers)

    @app.get("/api/runs")
    def list_runs():
        return JSONResponse({"runs": [item.describe() for item in served], "max_file_bytes": max_file_bytes,
                             "max_request_bytes": max_request_bytes, "max_files": MAX_FILES}, headers=headers)

    @app.post("/api/predict")
    async def predict(request: Request, run: str = "0"):
        if run not in runs:
            raise HTTPException(404, f"no run {run[:40]!r} here (runs: {', '.join(runs)})")
        length = request.headers.get("content-length")
        if length is None or not length.isdigit():
            raise HTTPException(411, "the upload must say its length (Content-Length)")
        if int(length) > max_request_bytes:
            raise HTTPException(413, f"the upload is {_mib(int(length))}; the limit is {_mib(max_request_bytes)} "
                                f"at once ({_mib(max_file_bytes)} per file): send fewer files at a time")
        form = await request.form(max_files=MAX_FILES, max_fields=8)
        try:
            uploads = [item for item in form.getlist("files") if not isinstance(item, str)]
            if not uploads:
                raise HTTPException(400, "no files in the upload (form field 'files')")
            big = [u for u in uploads if (u.size or 0) > max_file_bytes]
            if big:
                raise HTTPException(413, f"{_shown_name(big[0].filename)}: {_mib(big[0].size)}, over the limit of "
                                    f"{_mib(max_file_bytes)} per file"
                                    + (f" (and {len(big) - 1} more file(s) over it)" if len(big) > 1 else ""))
            pixel_size = form.get("pixel_size")
            pixel_size = (pixel_size.strip() or None) if isinstance(pixel_size, str) else None
            frame = form.get("frame")
            frame = (frame.strip() or None) if isinstance(frame, str) else None
            if frame is not None and not (frame.isascii() and frame.isdigit() and len(frame) < 10):
                raise HTTPException(400, f"frame: expected a whole number from 0, got {frame[:20]!r}")
            try:
                answer = await run_in_threadpool(predict_uploads, runs[run], [(u.filename, u.file) for u in uploads],
                                                 pixel_size, None if frame is None else int(frame))
            except InputError as bad:
                raise HTTPException(400, str(bad)) from None
        finally:
            await form.close()
        return JSONResponse(answer, headers=headers)

    return app


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (port 0: a free one); InputError naming the address."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except (OSError, UnicodeError) as error:
        raise InputError(f"--host: cannot listen on {host!r} ({error})") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as error:
        sock.close()
        raise InputError(f"{host}:{port}: cannot listen there ({error.strerror or error}); "
                         "choose another --port or --host") from None
    return sock


def serve(run_dirs: Sequence[str | Path], host: str = "127.0.0.1", port: int = 8000, batch_size: int = 32,
          echo=print) -> None:
    """Load the runs, listen on ``host:port`` and serve the page until interrupted."""
    import uvicorn

    served = load_runs(run_dirs, batch_size)
    sock = _listen(host, port)
    local = host in ("127.0.0.1", "localhost", "::1")
    app = create_app(served, allowed_hosts=None if local else ["*"])
    for item in served:
        echo(f"run {item.id}: {item.run.path} ({item.run.config['model']['name']}, "
             f"classes {', '.join(item.run.classes)})")
    shown = f"[{host}]" if ":" in host else host
    echo(f"serving at http://{shown}:{sock.getsockname()[1]}/ (Ctrl-C stops)")
    if not local:
        echo(f"warning: listening on {host}: anyone who can reach this machine can use the page (no login)")
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2)
    uvicorn.Server(config).run(sockets=[sock])


def serve_command(
    run_dirs: Annotated[list[Path], typer.Argument(help="Run directories made by `stemsim train` (one or more).")],
    host: Annotated[str, typer.Option("--host", help="Address to listen on; the default 127.0.0.1 is this "
                                      "machine only (0.0.0.0 opens the page, without a login, to the network).")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port (0: any free one).")] = 8000,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 32,
) -> None:
    """A local web page: drop images on it, see each one's label and probabilities (and a
    two_stage run's maps). Files over 64 MiB are refused."""
    import os

    from stemsim.errors import command_line

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with command_line():
        serve(run_dirs, host, port, batch_size, echo=lambda line: typer.echo(line))
