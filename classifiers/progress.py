"""Progress bars for the slow per-image loops (feature extraction, two-stage maps), on stderr
and only where someone watches it: piped, logged and tested output stays as it was."""

from __future__ import annotations

from typing import Iterable, TypeVar

T = TypeVar("T")


def tracked(items: Iterable[T], description: str, total: int) -> Iterable[T]:
    """``items`` unchanged, drawn as a transient rich bar while stderr is a terminal."""
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal or total < 2:
        return items
    from rich.progress import track

    return track(items, description=description, total=total, console=console, transient=True)
