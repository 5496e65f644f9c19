"""Holding a dataset folder and watching the parent: the generator's process plumbing.

:func:`_lock` takes the folder's exclusive lock (``.stemsim/lock``) without waiting;
:func:`_die_with` makes a worker process exit when the ``generate`` that started it is gone.
Used by :func:`stemsim.dataset.generate.claimed` and its workers.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path


_WATCHED: list[int] = []


def _die_with(parent: int) -> None:
    """In a worker process of ``parent``: exit as soon as ``parent`` is gone (killed with
    ``kill -9``, say), instead of living on for minutes. Only a direct child of ``parent``
    watches (a Dask worker elsewhere has another parent; ``--jobs 1`` runs in ``parent``
    itself). Polling ``getppid`` is portable and cannot fire early, unlike
    ``PR_SET_PDEATHSIG``, which fires when the *thread* that started the worker ends (loky
    starts replacement workers from a management thread). Loky runs this as each worker's
    initializer, so an idle worker watches too; :func:`make_shard` calls it again (a no-op
    once watching)."""
    if _WATCHED or os.getpid() == parent or os.getppid() != parent:
        return
    _WATCHED.append(parent)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)  # the parent is gone: nothing waits for this shard; the next run remakes it

    threading.Thread(target=watch, name="stemsim-parent-watch", daemon=True).start()



class _Busy(Exception):
    """Another process holds the folder's lock."""


def _lock(path: Path):
    """Take an exclusive lock on ``path`` (created if missing) without waiting: a handle to pass
    to :func:`_unlock`, or :class:`_Busy`. POSIX ``flock``, which the kernel releases however the
    holder ends (``kill -9`` too); it is taken on the file now *at* ``path``: a lock file that a
    failing run removed (with the folder it had made) after this one opened it locks nothing,
    so that is tried again. Where ``fcntl`` is missing (Windows), :mod:`filelock`."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        from filelock import FileLock, Timeout

        lock = FileLock(path, timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise _Busy from None
        return lock
    for _ in range(20):
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.path.samestat(os.fstat(handle), os.stat(path)):
                return handle
        except BlockingIOError:
            os.close(handle)
            raise _Busy from None
        except FileNotFoundError:
            pass  # removed while we took it: take the new one
        except BaseException:
            os.close(handle)
            raise
        os.close(handle)
    raise _Busy


def _unlock(handle) -> None:
    if isinstance(handle, int):
        os.close(handle)  # closing the last descriptor releases the flock
    else:  # pragma: no cover - Windows
        handle.release()
