"""generate under a hostile environment: a locked or contested folder, a full disk, no write
permission, a parent killed with -9, huge images. One line, exit 2, nothing mixed or half
written, and what was complete stays valid and resumable."""

from __future__ import annotations

import errno
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

from stemsim.dataset.generate import PARTS, shards
from stemsim.dataset.spec import SHARD_BYTES, image_bytes, resolve, shard_objects, spec_hash


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1 and err.startswith("stemsim: error: "), err
    return err[len("stemsim: error: "):-1]


def no_partials(root: Path) -> bool:
    return not [p for p in root.rglob("*") if ".partial" in p.name]


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
    assert no_partials(out)
    complete = sorted((out / PARTS).glob("*.csv"))
    assert 0 < len(complete) < len(shards(resolve(yaml.safe_load(spec.read_text()))))
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

    small = load_spec(Path(__file__).parents[1] / "configs" / "n_deformations.yaml")
    assert shard_objects(small) == small["output"]["shard_size"] == 256
    assert spec_hash(small) == hash_without_layout(small)
    assert spec_hash(big) != hash_without_layout(big)


def hash_without_layout(spec: dict) -> str:
    """The spec hash as it was before shards were sized by bytes."""
    import hashlib
    import json

    from stemsim import __version__

    canonical = json.dumps({"spec": spec, "version": __version__}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
