"""What a loaded dataset is, apart from where it came from: :class:`Split` (prepared images,
targets, ids, weights) and :class:`Dataset` (classes, task kind, splits, views), and
:func:`split_groups`, the per-group split that class folders and the STM set share.
Every reader (:mod:`stemsim.classifiers.data`, :mod:`stemsim.classifiers.stm_data`) builds these.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from stemsim.dataset.store import SPLITS, view_id
from stemsim.errors import InputError


@dataclass
class Split:
    """One split: ``images[i]`` prepared float16 ``(h, w, c)``, or ``(V, h, w, c)`` per object
    of multi-view data; ``targets`` ``(N, C)`` float32; ``soft_targets`` ``(N, C)`` float32 in
    [0, 1], where set, what training learns instead of ``targets`` (the STM mean scores)."""

    images: list[np.ndarray]
    targets: np.ndarray
    ids: list[str]
    weights: np.ndarray | None = None  # (N,) training sample weights, mean 1
    soft_targets: np.ndarray | None = None

    def training_targets(self) -> np.ndarray:
        """What a classifier fits: ``soft_targets`` where set, else ``targets``."""
        return self.targets if self.soft_targets is None else self.soft_targets

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, index: Iterable[int]) -> "Split":
        index = list(index)
        return Split([self.images[i] for i in index], self.targets[index], [self.ids[i] for i in index],
                     None if self.weights is None else self.weights[index],
                     None if self.soft_targets is None else self.soft_targets[index])

    def per_view(self) -> Split:
        """Multi-view split → one item per view: ids ``<object_id>/view_<k>``, the object's
        target and weight repeated (objects stay whole on their side of every split)."""
        counts = [len(obj) for obj in self.images]
        index = np.repeat(np.arange(len(self)), counts)
        return Split([view for obj in self.images for view in obj], self.targets[index],
                     [view_id(ident, k) for ident, n in zip(self.ids, counts) for k in range(n)],
                     None if self.weights is None else self.weights[index],
                     None if self.soft_targets is None else self.soft_targets[index])


@dataclass
class Dataset:
    """Classes (label order of the targets' columns), task kind, splits, provenance, and the
    views per object (1: single images; V ≥ 2: every split item is an object of V views)."""

    classes: list[str]
    multilabel: bool
    splits: dict[str, Split]
    info: dict[str, Any] = field(default_factory=dict)
    views: int = 1

    def per_view(self) -> Dataset:
        """Single-view form of multi-view data (see :meth:`Split.per_view`); ``info`` keeps ``views``."""
        return Dataset(self.classes, self.multilabel, {n: s.per_view() for n, s in self.splits.items()},
                       dict(self.info), 1)

    def split(self, name: str) -> Split:
        if name not in self.splits or len(self.splits[name]) == 0:
            raise InputError(f"data: the {name!r} split is empty or missing in {self.info.get('path', 'the data')}")
        return self.splits[name]


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    out = np.zeros((len(labels), n_classes), np.float32)
    out[np.arange(len(labels)), labels] = 1.0
    return out


def split_groups(strata: np.ndarray, groups: list[str], val_fraction: float, test_fraction: float,
                 seed: int) -> dict[str, np.ndarray]:
    """Split items into train/val/test by *group* (items of one group stay together), per stratum.

    ``strata`` (N,) int: the stratum of each item (a group takes the stratum of its first item);
    each stratum's groups are shuffled with ``seed`` and cut by the fractions (at least one
    training group per stratum). Returns sorted item indices per split.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    members: dict[str, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        members[g].append(i)
    by_stratum: dict[int, list[str]] = defaultdict(list)
    for g, items in members.items():
        by_stratum[int(strata[items[0]])].append(g)
    out: dict[str, list[int]] = {s: [] for s in SPLITS}
    for stratum in sorted(by_stratum):
        gs = by_stratum[stratum]
        order = rng.permutation(len(gs))
        n = len(gs)
        n_test = int(round(test_fraction * n))
        n_val = int(round(val_fraction * n))
        if n_test + n_val >= n:  # keep at least one training group
            n_val = max(0, min(n_val, n - 1 - n_test))
            n_test = max(0, min(n_test, n - 1 - n_val))
        for rank, k in enumerate(order):
            split = "test" if rank < n_test else "val" if rank < n_test + n_val else "train"
            out[split].extend(members[gs[k]])
    return {s: np.array(sorted(v), dtype=np.int64) for s, v in out.items()}
