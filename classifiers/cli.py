"""The classifier verbs of ``stemsim``: train, evaluate, predict, import-stm.

:func:`register` adds them to the program's Typer app. TensorFlow/Keras are imported inside
the command bodies only, and only for models that need them (:mod:`stemsim.classifiers.backend`: a
geometric or texture run never imports them), so ``stemsim --help`` stays fast. Every verb
starts with :func:`_start` (TensorFlow's log level set before it can be imported) and runs
inside :func:`stemsim.errors.command_line`, so that its errors name options as the command
line spells them (``--overwrite``, not ``overwrite=True``). Bad input raises
:class:`stemsim.errors.InputError`, which ``stemsim.cli.main`` prints as one line (exit 2).
train, evaluate and predict print one line ``model: NAME (backend, device)`` on stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from stemsim.errors import InputError, command_line


def _start() -> None:
    """What every classifier verb does first: TensorFlow's C++ log level to errors only
    (``TF_CPP_MIN_LOG_LEVEL=3``), before anything can import it (:mod:`stemsim.classifiers.backend`)."""
    from stemsim.classifiers.backend import quiet_tensorflow

    quiet_tensorflow()


def _say(line: str) -> None:
    typer.echo(line, err=True)


def _warn(message: str) -> None:
    typer.echo(f"stemsim: warning: {message}", err=True)


def _keras_first(run_dir: Path) -> str | None:
    """The run's model name; Keras imported quietly first when the run needs it (nothing, and
    None, when ``run_dir`` is no readable run: the verb itself then says why)."""
    from stemsim.classifiers.backend import import_keras
    from stemsim.classifiers.run import open_run

    try:
        run = open_run(run_dir)
    except InputError:
        return None
    if run.model_kind.needs_keras:
        import_keras()
    return run.info["model"]


def train_command(
    experiment: Annotated[Path, typer.Argument(help="Experiment YAML (see docs/classifiers.md: Experiment YAML).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run directory to create.")],
    data: Annotated[Optional[Path], typer.Option("--data", help="Replace data.path of the experiment.")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an earlier run directory at --out.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No per-epoch lines.")] = False,
    allow_incomplete: Annotated[bool, typer.Option(
        "--allow-incomplete", help="Train on the complete shards of a stemsim dataset that is not finished "
        "(a stopped `stemsim generate`, manifest.csv or spec.yaml missing) instead of refusing it.")] = False,
) -> None:
    """Train a classifier; saves the best-on-validation model, history and resolved config.

    Prints how many images it trained on of how many the dataset's spec promises, and on stderr
    which library and device train the model."""
    _start()
    with command_line():
        import json

        from stemsim.classifiers.data import usage_line
        from stemsim.classifiers.run import RUN_FILE
        from stemsim.classifiers.training import train

        # Keras' own bar within each epoch (steps, ETA) where someone watches; one line per epoch
        # in pipes and logs (Keras writes both to stdout)
        watched = sys.stdout.isatty() and sys.stderr.isatty()
        run = train(experiment, out, overwrite=overwrite, data_path=data, verbose=0 if quiet else 1 if watched else 2,
                    allow_incomplete=allow_incomplete, announce=_say)
        info = json.loads((run / RUN_FILE).read_text())
        typer.echo(usage_line("train", info["data"], ("train", "val")))
        typer.echo(kept_line(info))
        typer.echo(f"run written to {run}")


def kept_line(info: dict) -> str:
    """``kept epoch K (val_loss X)``: which epoch's model the run keeps (run.json ``best``)."""
    best = info.get("best")
    if not best:
        return f"kept the last epoch ({info.get('epochs_run', 0)} run; no {info.get('monitor', 'monitor')} to choose by)"
    stage = f" of stage {best['stage']}" if best.get("stage") else ""
    return f"kept epoch {best['epoch']}{stage} ({best['monitor']} {best['value']:.4g})"


def evaluate_command(
    run_dir: Annotated[Path, typer.Argument(help="Run directory made by `stemsim train`.")],
    data: Annotated[Optional[Path], typer.Option("--data", help="Evaluate on this dataset instead.")] = None,
    split: Annotated[str, typer.Option("--split", help="auto, train, val, test or all. auto: the test split of "
                                       "the run's own data, every image (all) of other --data.")] = "auto",
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Report folder "
                                                "(default RUN_DIR/evaluation/<split>).")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 32,
    fusion: Annotated[Optional[str], typer.Option(
        "--fusion", help="mean, vote, features or backprojection: how a single-view model's per-view outputs are "
        "combined per object on multi-view data (the mean probability, or a majority vote of the per-view "
        "decisions, ties going to the highest mean probability; features: a two_stage run's classifier of the "
        "view-pooled map features; backprojection: a two_stage run's classifier that also sees the vertex "
        "heat-maps back-projected along the tilt series' angles). Default: the experiment's evaluation.fusion "
        "(mean).")] = None,
    views: Annotated[Optional[int], typer.Option(
        "--views", min=1, help="Multi-view data: use only the first K views of every object (default all).")] = None,
    spread: Annotated[bool, typer.Option(
        "--spread", help="With --views K: K views evenly spread over every object's views (over a tilt series: "
        "its whole range) instead of the first K.")] = False,
    allow_incomplete: Annotated[bool, typer.Option(
        "--allow-incomplete", help="Score the complete shards of a stemsim dataset that is not finished "
        "(a stopped `stemsim generate`, manifest.csv or spec.yaml missing) instead of refusing it.")] = False,
) -> None:
    """Score a run: accuracy, balanced accuracy, P/R/F1, ROC AUC, confusion, baseline, size, speed.

    Multi-view data is scored per object: a multiview model pools its views itself, any
    other model's per-view outputs are fused (--fusion). --fusion/--views/--spread, when given,
    are added to the default report folder name (e.g. evaluation/test-vote-views2). The first
    line says how many images were used of how many the dataset's spec promises, the second
    what the run's data rules dropped (classes the model does not know, ...).
    """
    _start()
    with command_line():
        _evaluate(run_dir, data, split, out, batch_size, fusion, views, spread, allow_incomplete)


def _evaluate(run_dir, data, split, out, batch_size, fusion, views, spread, allow_incomplete) -> None:
    from stemsim.classifiers.evaluation import evaluate

    _keras_first(run_dir)
    report = evaluate(run_dir, data=data, split=split, out=out, batch_size=batch_size, fusion=fusion, views=views,
                      spread=spread, allow_incomplete=allow_incomplete, announce=_say)
    typer.echo(report["usage"])
    typer.echo(report["dropped"])
    m = report["metrics"]
    if report["task"] == "multi-label":
        line = (f"exact match {m['exact_match_accuracy']:.4f} (baseline "
                f"{report['constant_baseline']['exact_match_accuracy']:.4f}), "
                f"mean category accuracy {m['mean_category_accuracy']:.4f}")
    else:
        line = (f"accuracy {m['accuracy']:.4f} (baseline {report['constant_baseline']['accuracy']:.4f}), "
                f"balanced accuracy {m['balanced_accuracy']:.4f}")
    d, v = report["data"], report["views"]
    which = f"views {','.join(map(str, v['indices']))}, " if "indices" in v else ""
    scored = (f"{d['n_objects']} objects × {v['count']} view{'s' * (v['count'] > 1)} ({which}{v['fusion']})"
              if "n_objects" in d else f"{d['n_images']} images")
    typer.echo(f"{scored}: {line}")
    typer.echo(f"report written to {report['output_dir']}")


def predict_command(
    run_dir: Annotated[Path, typer.Argument(help="Run directory made by `stemsim train`.")],
    images: Annotated[Optional[list[Path]], typer.Argument(help="Image files, any size: microscope files with "
                                                          "their calibration (.dm3 .dm4 .emd .ser .emi .mrc .hspy, "
                                                          "TIFF) or PNG/JPG/BMP.")] = None,
    objects: Annotated[Optional[list[Path]], typer.Option(
        "--object", help="A folder holding the views of ONE object (repeatable): one prediction per "
        "object, instead of per image file.")] = None,
    fusion: Annotated[Optional[str], typer.Option(
        "--fusion", help="--object with a single-view model: mean, vote or (two_stage) features or "
        "backprojection over the views (backprojection: a file view_k is view k of the training tilt series, "
        "as stemsim generate names them; other names are the series' first views, in file order; default: the "
        "experiment's evaluation.fusion).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write here (.csv or .json) "
                                                "instead of standard output.")] = None,
    fmt: Annotated[Optional[str], typer.Option("--format", help="csv or json (default: from --out, else csv).")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 32,
    maps: Annotated[Optional[Path], typer.Option(
        "--maps", help="two_stage runs: also write each image's predicted maps here (NAME.mask.png, "
        "NAME.thickness.tif in nm, NAME.vertices.png/.json).")] = None,
    pixel_size: Annotated[Optional[float], typer.Option(
        "--pixel-size", metavar="<nm>", help="nm per pixel of the given images that record none (PNG, an "
        "uncalibrated TIFF); a calibrated file's own scale is used (a --pixel-size that disagrees with it by "
        "more than 1 % is refused). A run trained on a stemsim dataset resamples the images to its training "
        "pixel size and centre-crops or pads them to its field of view; an image of unknown pixel size is "
        "taken to be at the training pixel size (with a warning).")] = None,
    frame: Annotated[Optional[int], typer.Option(
        "--frame", min=0, metavar="K", help="Stacks (a time or tilt series, one image per navigation "
        "position): predict image K (from 0).")] = None,
    signal: Annotated[Optional[int], typer.Option(
        "--signal", min=0, metavar="K", help="Files of several signals (a Velox .emd of several detectors): "
        "predict signal K (from 0; default the only image).")] = None,
    override_scale: Annotated[bool, typer.Option(
        "--override-scale", help="Use --pixel-size instead of the files' own calibration.")] = False,
) -> None:
    """Label and probabilities per image file, or per object with --object FOLDER (a multiview
    model sees all views at once; a single-view model's per-view probabilities are fused).

    The CSV's p_<class> columns are in the run's class order (run.json classes: a stemsim
    dataset's spec order, not alphabetical). A file that cannot be read (not an image, or over
    the size limits of stemsim.classifiers.limits) gets a row with its error, and one error line on
    stderr; the other files are still predicted, and the exit status is then 2. The pixel_size_nm
    column is each file's nm per pixel as used (its calibration, or --pixel-size)."""
    _start()
    with command_line():
        _predict(run_dir, images, objects, fusion, out, fmt, batch_size, maps, pixel_size,
                 dict(frame=frame, signal=signal, override_scale=override_scale))


def _predict(run_dir, images, objects, fusion, out, fmt, batch_size, maps, pixel_size, picks) -> None:
    if fmt is None:
        fmt = "json" if out is not None and out.suffix.lower() == ".json" else "csv"
    if fmt not in ("csv", "json"):
        raise InputError(f"--format: expected csv or json, got {fmt!r}")
    if bool(images) == bool(objects):
        raise InputError("predict: give image files or --object folders (one of the two)")
    if maps is not None and objects:
        raise InputError("--maps: only with image files (not --object)")
    if fusion is not None and not objects:
        raise InputError("--fusion: only with --object (image files are predicted one by one)")
    for option, given in (("--frame", picks["frame"] is not None), ("--signal", picks["signal"] is not None),
                          ("--override-scale", picks["override_scale"])):
        if given and objects:
            raise InputError(f"{option}: only with image files (not --object)")
    from stemsim.classifiers.backend import model_line
    from stemsim.classifiers.prediction import format_predictions, predict_files, predict_objects
    from stemsim.classifiers.run import environment, open_run

    name = _keras_first(run_dir)
    said: list[str] = []  # the scale warnings: shown once the files are predicted (a failure is one line)
    rows = (predict_objects(run_dir, objects, batch_size, fusion, pixel_size, said.append) if objects
            else predict_files(run_dir, images, batch_size, maps, pixel_size, said.append, **picks))
    text = format_predictions(rows, open_run(run_dir).classes, fmt)
    for message in said:
        _warn(message)
    if name is not None and any(row["error"] is None for row in rows):
        _say(model_line(name, environment(name)))
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text)
        typer.echo(f"{sum(r['error'] is None for r in rows)} predictions written to {out}", err=True)
    failed = [r["error"] for r in rows if r["error"]]
    for message in failed:
        typer.echo(f"stemsim: error: {message}", err=True)
    if failed:  # exit status 2 through the program's InputError handling
        raise InputError(f"{len(failed)} of {len(rows)} file(s) could not be read"
                         + ("; the others were predicted" if len(failed) < len(rows) else ""))


def import_stm_command(
    images_dir: Annotated[Path, typer.Argument(help="Folder of the original colour-mapped PNGs.")],
    summary: Annotated[Path, typer.Argument(help="Zooniverse summary .xlsx, or a .csv export of Mean_Score.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write images_<size>.npz + labels.csv.")],
    agreement: Annotated[Optional[Path], typer.Option("--agreement", help=".csv export of Agreement_Score.")] = None,
    size: Annotated[int, typer.Option("--size", min=8, help="Side of the box-resampled images.")] = 128,
) -> None:
    """Rebuild the real STM set (data kind: stm) from the original public layout."""
    _start()
    with command_line():
        from stemsim.classifiers.stm_data import import_original

        result = import_original(images_dir, summary, out, size=size, agreement=agreement)
        typer.echo(f"{result['images']} images written to {out} ({result['missing_images']} named in the summary "
                   "were not found)")


def convert_run_command(
    run_dir: Annotated[Path, typer.Argument(help="Run directory made by stemsim before models were stored "
                                            "with skops (it holds *.joblib files).")],
    trust: Annotated[bool, typer.Option("--trust", help="You made this run or trust its source: converting "
                                        "unpickles its .joblib files, which can run code.")] = False,
) -> None:
    """Rewrite an old run's pickle (.joblib) model files as safe skops files, in place."""
    _start()
    with command_line():
        from stemsim.classifiers.model_files import convert_legacy_run

        for old, new in convert_legacy_run(run_dir, trust=trust):
            typer.echo(f"{old} -> {new.name}")


def register(app: typer.Typer) -> None:
    """Add the classifier verbs to ``app``."""
    app.command("train")(train_command)
    app.command("evaluate")(evaluate_command)
    app.command("predict")(predict_command)
    app.command("import-stm")(import_stm_command)
    app.command("convert-run")(convert_run_command)
    from stemsim.classifiers.serve import serve_command  # imports FastAPI only when the page is served

    app.command("serve")(serve_command)
