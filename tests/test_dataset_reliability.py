"""generate under a hostile environment: a locked or contested folder, a full disk, no write
permission, a parent killed with -9, huge images. One line, exit 2, nothing mixed or half
written, and what was complete stays valid and resumable."""

from __future__ import annotations

import errno
import importlib
import os
import pathlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from cli_runner import run
from test_dataset import TINY, tree, write_spec

from stemsim.dataset.generate import PARTS, shard_files, shards
from stemsim.dataset.spec import SHARD_BYTES, image_bytes, resolve, shard_objects, spec_hash


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1 and err.startswith("stemsim: error: "), err
    return err[len("stemsim: error: "):-1]


def no_partials(root: Path) -> bool:
    return not [p for p in root.rglob("*") if ".partial" in p.name]


def only_complete_shards(out: Path, spec_file: Path) -> int:
    """``out`` holds its spec, its format version, its lock and the files of its complete shards, nothing else (no
    half shard, no temporary); returns how many shards are complete."""
    spec = resolve(yaml.safe_load(spec_file.read_text()))
    complete = [s for s in shards(spec) if (out / PARTS / f"{s.name}.csv").is_file()]
    expected = {"spec.yaml", ".stemsim/format.json", ".stemsim/lock"} | {name for s in complete for name in shard_files(spec, s)}
    assert {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} == expected
    return len(complete)


def test_a_locked_folder_is_refused_at_once(tmp_path, capsys):
    from filelock import FileLock

    spec = write_spec(tmp_path, TINY)
    out = tmp_path / "out"
    (out / ".stemsim").mkdir(parents=True)
    with FileLock(out / ".stemsim" / "lock"):
        assert run("generate", spec, "--out", out) == 2
        assert one_error_line(capsys) == (f"{out}: another stemsim generate is writing here (the folder is "
                                          "locked); wait for it, or choose another --out")
        assert sorted(p.name for p in out.rglob("*")) == [".stemsim", "lock"]
    assert run("generate", spec, "--out", out) == 0  # released: it goes ahead


def test_two_generates_of_different_specs_never_both_write_one_folder(tmp_path):
    """A real race between two processes: one wins, the other is refused, and the folder is
    exactly the winner's dataset (the bytes of a run alone)."""
    specs = [write_spec(tmp_path, {**TINY, "seed": seed}, f"spec{seed}.yaml") for seed in (1, 2)]
    alone = {}
    for spec in specs:
        assert run("generate", spec, "--out", tmp_path / f"alone-{spec.stem}") == 0
        alone[spec] = tree(tmp_path / f"alone-{spec.stem}")
    for trial in range(3):
        out = tmp_path / f"race{trial}"
        procs = [subprocess.Popen([sys.executable, "-m", "stemsim.cli", "generate", spec, "--out", out],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for spec in specs]
        results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
        codes = [code for code, _ in results]
        assert sorted(codes) == [0, 2], results
        loser = results[codes.index(2)][1]
        assert loser.count("\n") == 1 and "Traceback" not in loser
        winner = specs[codes.index(0)]
        assert tree(out) == alone[winner]


def test_the_same_spec_twice_in_a_row_gives_one_tree(tmp_path):
    spec = write_spec(tmp_path, TINY)
    assert run("generate", spec, "--out", tmp_path / "a") == 0
    assert run("generate", spec, "--out", tmp_path / "a") == 0
    assert run("generate", spec, "--out", tmp_path / "b") == 0
    assert tree(tmp_path / "a") == tree(tmp_path / "b")


def full_disk_after(monkeypatch, writes: int) -> None:
    """``Path.write_bytes`` writes half of its data and fails with ENOSPC after ``writes`` calls."""
    real = pathlib.Path.write_bytes
    calls = {"n": 0}

    def write_bytes(self, data):
        calls["n"] += 1
        if calls["n"] > writes:
            real(self, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return real(self, data)

    monkeypatch.setattr(pathlib.Path, "write_bytes", write_bytes)


def test_a_full_disk_is_one_line_and_the_complete_shards_resume(tmp_path, capsys, monkeypatch):
    spec = write_spec(tmp_path, TINY)
    out = tmp_path / "out"
    full_disk_after(monkeypatch, 12)  # spec.yaml and some shards, then the disk is full
    assert run("generate", spec, "--out", out) == 2
    line = one_error_line(capsys)
    assert line.startswith(str(out)) and line.endswith(": cannot write the dataset (no space left on device)")
    assert 0 < only_complete_shards(out, spec) < len(shards(resolve(yaml.safe_load(spec.read_text()))))
    monkeypatch.undo()
    assert run("generate", spec, "--out", out) == 0  # resumes
    assert run("generate", spec, "--out", tmp_path / "clean") == 0
    assert tree(out) == tree(tmp_path / "clean")


def test_a_disk_full_at_the_first_write_leaves_nothing(tmp_path, capsys, monkeypatch):
    spec = write_spec(tmp_path, TINY)
    out = tmp_path / "out"
    full_disk_after(monkeypatch, 0)
    assert run("generate", spec, "--out", out) == 2
    assert one_error_line(capsys).endswith(": cannot write the dataset (no space left on device)")
    assert not out.exists()


FULL_IN_WORKERS = """
import errno, os, pathlib
_real = pathlib.Path.write_bytes
def _write_bytes(self, data):
    if "val-00000.npz" in self.name and os.environ.get("FULL_DISK_AT") == "val-00000":
        _real(self, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
    return _real(self, data)
pathlib.Path.write_bytes = _write_bytes
"""


def test_a_full_disk_in_a_worker_process(tmp_path):
    """``--jobs 2``: the disk fills up in a loky worker, in the middle of a shard (its PNGs
    written, its npz not): one line naming the file, the half shard and every temporary gone,
    and the same command resumes to the bytes of a clean run."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(FULL_IN_WORKERS)  # loaded by the workers too
    spec = write_spec(tmp_path, TINY)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")]),
           "FULL_DISK_AT": "val-00000"}
    command = [sys.executable, "-m", "stemsim.cli", "generate", spec, "--out", out, "--jobs", "2"]
    failed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert failed.returncode == 2, failed.stderr
    assert failed.stderr == (f"stemsim: error: {out / 'arrays' / 'val-00000.npz'}: "
                             "cannot write the dataset (no space left on device)\n")
    only_complete_shards(out, spec)
    assert not (out / "val").exists()  # the failing shard was val's only one: its PNGs went too
    resumed = subprocess.run(command, env={**env, "FULL_DISK_AT": ""}, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert run("generate", spec, "--out", tmp_path / "clean") == 0
    assert tree(out) == tree(tmp_path / "clean")


def test_ctrl_c_in_the_middle_of_a_shard_leaves_no_half_shard(tmp_path, monkeypatch):
    generate = importlib.import_module("stemsim.dataset.generate")  # the package exports a function of that name

    real, calls = generate.write_atomic, {"n": 0}

    def write_atomic(path, data):
        calls["n"] += 1
        if calls["n"] == 14:  # spec.yaml, two shards of 4 PNGs + npz + part, then 3 PNGs of the third
            raise KeyboardInterrupt
        return real(path, data)

    monkeypatch.setattr(generate, "write_atomic", write_atomic)
    spec = write_spec(tmp_path, TINY)
    out = tmp_path / "out"
    assert run("generate", spec, "--out", out) == 130
    assert only_complete_shards(out, spec) == 2
    monkeypatch.undo()
    assert run("generate", spec, "--out", out) == 0
    assert run("generate", spec, "--out", tmp_path / "clean") == 0
    assert tree(out) == tree(tmp_path / "clean")


def test_a_lock_file_removed_while_it_is_taken_is_taken_again(tmp_path, monkeypatch):
    """A failing run removes the folder it made (lock file too) just after a second run opened
    that lock file: the second run's lock must be on the file now at the path, not the old one."""
    generate = importlib.import_module("stemsim.dataset.generate")  # the package exports a function of that name

    path = tmp_path / "out" / ".stemsim" / "lock"
    real, opened = os.open, []

    def open_then_removed(name, *args, **kwargs):
        handle = real(name, *args, **kwargs)
        if not opened:
            os.unlink(name)  # what the other run's clean-up does
        opened.append(handle)
        return handle

    monkeypatch.setattr(generate.os, "open", open_then_removed)
    handle = generate._lock(path)
    try:
        assert len(opened) == 2 and os.path.samestat(os.fstat(handle), os.stat(path))
        with pytest.raises(generate._Busy):
            generate._lock(path)  # and it is held
    finally:
        generate._unlock(handle)


def test_a_folder_that_cannot_be_read(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    real = pathlib.Path.iterdir

    def iterdir(self):
        if self == out:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
        return real(self)

    monkeypatch.setattr(pathlib.Path, "iterdir", iterdir)
    assert run("generate", write_spec(tmp_path, TINY), "--out", out) == 2
    assert one_error_line(capsys) == f"{out}: cannot read the dataset (permission denied)"


@pytest.mark.parametrize("code, words", [(errno.EACCES, "permission denied"), (errno.EROFS, "read-only file system")])
def test_no_write_permission_or_a_read_only_filesystem(tmp_path, capsys, monkeypatch, code, words):
    """Tests run as root, whom chmod does not stop: the refusal is simulated where the OS gives it."""
    real = pathlib.Path.mkdir

    def mkdir(self, *args, **kwargs):
        if str(self).startswith(str(tmp_path / "out")):
            raise OSError(code, os.strerror(code), str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "mkdir", mkdir)
    out = tmp_path / "out"
    assert run("generate", write_spec(tmp_path, TINY), "--out", out) == 2
    assert one_error_line(capsys) == f"{out}: cannot write the dataset ({words})"
    assert not out.exists()


def test_out_is_a_file_or_inside_one(tmp_path, capsys):
    spec = write_spec(tmp_path, TINY)
    afile = tmp_path / "afile"
    afile.write_text("mine")
    assert run("generate", spec, "--out", afile) == 2
    assert one_error_line(capsys) == f"{afile}: is a file, not a folder; choose another --out"
    assert run("generate", spec, "--out", afile / "sub") == 2
    assert one_error_line(capsys) == f"{afile / 'sub'}: cannot write the dataset (not a directory)"
    assert afile.read_text() == "mine"


def test_workers_die_with_their_parent(tmp_path):
    psutil = pytest.importorskip("psutil")
    spec = write_spec(tmp_path, {**TINY, "image": {"size": 64, "pixel_size": 0.3},
                                 "classes": {"values": [0, 2, 8], "per_class": 400}})
    parent = subprocess.Popen([sys.executable, "-m", "stemsim.cli", "generate", spec, "--out", tmp_path / "out",
                               "--jobs", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until both workers have made a shard
            if len(list((tmp_path / "out" / PARTS).glob("*.csv"))) >= 2:
                break
            time.sleep(0.2)
        children = psutil.Process(parent.pid).children(recursive=True)
        assert len(children) >= 2
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 20
    alive = children
    while alive and time.monotonic() < deadline:
        alive = [c for c in alive if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
        time.sleep(0.2)
    assert alive == [], [c.cmdline()[:3] for c in alive]


def test_shards_are_sized_by_bytes_at_any_image_size():
    big = resolve({"name": "big", "label": "n_deformations", "image": {"size": 4096, "pixel_size": 0.15},
                   "classes": {"values": [0, 1], "per_class": 10}, "object": {"size": 300}})
    assert image_bytes(big) == 4096 * 4096 * 6  # uint8 image + float32 thickness + bool mask
    assert shard_objects(big) == SHARD_BYTES // image_bytes(big) == 2
    planned = shards(big)
    assert max(len(s.items) for s in planned) == 2 and sum(len(s.items) for s in planned) == 20
    # a layout the budget cut is part of the spec's identity (a dataset begun with the old
    # layout is refused, not resumed into); the shipped sizes keep their layout and hash
    from stemsim.dataset.spec import load_spec

    shipped = sorted((Path(__file__).parents[1] / "configs").glob("*.yaml"))
    assert len(shipped) >= 8
    for path in shipped:
        small = load_spec(path)
        assert shard_objects(small) == small["output"]["shard_size"] // small["views"]["count"], path
        assert spec_hash(small) == hash_without_layout(small), path
    assert spec_hash(big) != hash_without_layout(big)


def hash_without_layout(spec: dict) -> str:
    """The spec hash as it was before shards were sized by bytes (with the image model, which
    it hashes since image model 2)."""
    import hashlib
    import json

    from stemsim import __version__
    from stemsim.dataset.spec import hashed_spec
    from stemsim.simulator import IMAGE_MODEL_VERSION

    # hashed_spec: keys added at their defaults since (the lattice, the contrast model) stay out
    identity = {"spec": hashed_spec(spec), "version": __version__, "image_model": IMAGE_MODEL_VERSION}
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
