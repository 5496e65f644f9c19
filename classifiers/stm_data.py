"""The real STM H:Si(100) tip-state set (6 categories, multi-label) and its importer.

Folder layout (see ``../shared/data/stm_si100/README.md``): ``images_<size>.npz`` with
``images`` uint8 ``(N, size, size)`` and ``names``; ``labels.csv`` with one row per image in
the same order: ``name, n_responses``, six mean scores in [0, 1], ``agreement``,
``orig_height, orig_width``.

Decisions (each a ``data`` key, defaults in brackets):

* a category holds when its mean score is **strictly above** ``threshold`` [0.5];
* images whose ``agreement`` < ``min_agreement`` are dropped [0.0 = keep all; published: 0.4];
* **scans stopped early** — ``orig_height < min_height_fraction × orig_width`` [0.5] — are
  dropped: their few lines were stretched to 128 rows, so the pixels do not look like any
  full scan the classifier will meet (140 of 4,270 images at 0.5; 0 keeps them);
* the split is made **by image** before anything is repeated: identical pixel arrays (the
  set holds a few blank duplicates under different names) form one group, so no copy of an
  image can sit on both sides (:func:`stemsim.classifiers.data.split_groups`, stratified by the
  rarest category an image holds); ``split_group: series`` also keeps each scan series
  (name up to its last ``_k``) on one side [image];
* only inside the training split: ``targets: score`` makes the mean scores themselves what
  the classifiers learn (an image two of three people ticked is 2/3 a positive: the networks'
  binary cross-entropy takes it as it is, the ``texture`` model's boosters count it as a
  positive with weight 2/3 and a negative with 1/3); validation and test are always scored
  against the binarised labels [binary]; ``weighting: score`` gives sample weights ∝ mean scores,
  balanced over categories (:func:`score_weights`), and ``oversample_max_repeat > 1`` repeats
  images of rare categories (:func:`oversample_repeats`).
"""

from __future__ import annotations

import csv
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

from stemsim.classifiers.splits import SPLITS, Dataset, Split, split_groups
from stemsim.classifiers.limits import check_npz
from stemsim.classifiers.preprocessing import Preprocessing, content_key, read_image
from stemsim.errors import InputError

STM_CATEGORIES = ("asymmetries", "individual_atoms", "dimers", "rows", "tip_change", "bad_blurry")
"""The six label categories of the real STM H:Si(100) set, in column order."""
LABEL_COLUMNS = ("name", "n_responses", *STM_CATEGORIES, "agreement", "orig_height", "orig_width")


def read_stm_table(path: str | Path) -> dict[str, np.ndarray]:
    """Read ``labels.csv``: arrays ``name, n_responses, scores (N, 6), agreement, orig_height,
    orig_width``. InputError names the file and the first bad row/column."""
    path = Path(path)
    try:
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror})") from None
    if not rows:
        raise InputError(f"{path}: no rows")
    missing = [c for c in LABEL_COLUMNS if c not in rows[0]]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    try:
        table = {
            "name": np.array([r["name"] for r in rows]),
            "n_responses": np.array([int(r["n_responses"]) for r in rows]),
            "scores": np.array([[float(r[c]) for c in STM_CATEGORIES] for r in rows], np.float64),
            "agreement": np.array([float(r["agreement"]) for r in rows]),
            "orig_height": np.array([int(r["orig_height"]) for r in rows]),
            "orig_width": np.array([int(r["orig_width"]) for r in rows]),
        }
    except ValueError as error:
        raise InputError(f"{path}: a value is not a number ({error})") from None
    if np.any((table["scores"] < 0) | (table["scores"] > 1)):
        raise InputError(f"{path}: mean scores must lie in [0, 1]")
    return table


def rater_disagreement(table: dict[str, np.ndarray]) -> dict[str, Any]:
    """How noisy the people's labels are: ``{images, responses: {"1", "2", "3+": images},
    two_rater_images, disagreement: {category: fraction}, person_vs_person: {category:
    balanced accuracy}}``, the disagreement being the fraction of the images labelled by
    exactly two people where one ticked the category and the other did not (mean score 0.5).

    ``person_vs_person``: on those images, one person's ticks taken as a prediction of the
    other's, the balanced accuracy (the mean of the true-positive and true-negative rates,
    averaged over which person is which; for a yes/no answer also its ROC AUC). With ``a``,
    ``d``, ``b`` the fractions both ticked, one did, none did: ``(a/(a + d/2) + b/(b + d/2))/2``.
    None where no two-person image has both answers."""
    responses = table["n_responses"]
    two = responses == 2
    scores = table["scores"][two]

    def person_vs_person(s: np.ndarray) -> float | None:
        both, split, neither = np.mean(s == 1.0), np.mean(np.isclose(s, 0.5)), np.mean(s == 0.0)
        if both + split == 0 or neither + split == 0:
            return None
        return float((both / (both + split / 2) + neither / (neither + split / 2)) / 2)

    return {"images": int(len(responses)),
            "responses": {"1": int((responses == 1).sum()), "2": int(two.sum()), "3+": int((responses >= 3).sum())},
            "two_rater_images": int(two.sum()),
            "disagreement": {c: float(np.mean(np.isclose(scores[:, i], 0.5))) if two.any() else None
                             for i, c in enumerate(STM_CATEGORIES)},
            "person_vs_person": {c: person_vs_person(scores[:, i]) if two.any() else None
                                 for i, c in enumerate(STM_CATEGORIES)}}


def label_ceiling(table: dict[str, np.ndarray], threshold: float = 0.5, categories: Sequence[str] = STM_CATEGORIES,
                  grid_points: int = 201) -> dict[str, Any]:
    """The ROC AUC that labels this noisy allow: that of a model knowing every image's **tick
    probability** q exactly (the fraction of all people who would tick the category: the most any
    model of the image can know), scored against labels made as here, ``k`` of ``n`` people
    ticking, the label holding when ``k/n > threshold``, with as many people per image as the
    table has.

    q is not observed, only the counts ``k`` of ``n``; its distribution over the images is fitted
    to them in two ways (per category of ``categories``): ``free``, the maximum-likelihood
    distribution on a grid of ``grid_points`` values in [0, 1] (EM; it fits best, but with mostly
    1–3 people per image several distributions fit about as well), and ``beta``, a beta
    distribution (a beta-binomial fit; smooth, a little worse in log-likelihood). Each gives
    ``{per_category: {category: {roc_auc, log_likelihood}}, mean_roc_auc}``: two estimates, not
    bounds (they take the people as interchangeable, and how many labelled an image as unrelated
    to the image). The AUC is the population one, ``P(q of a positive > q of a negative)`` (ties
    half), for images drawn as the table's: a test split of a few hundred images scatters around it.
    """
    from scipy import stats

    n_people = np.asarray(table["n_responses"], np.int64)
    ticks = np.rint(np.asarray(table["scores"]) * n_people[:, None]).astype(np.int64)
    grid = np.linspace(0.0, 1.0, grid_points)
    edges = np.r_[0.0, (grid[1:] + grid[:-1]) / 2, 1.0]
    people, share = np.unique(n_people, return_counts=True)
    # P(label holds | q), over the table's mix of people per image
    holds = np.stack([stats.binom.sf(np.floor(threshold * n), n, grid) for n in people])
    p_holds = (share[:, None] / share.sum() * holds).sum(axis=0)
    fits: dict[str, dict[str, Any]] = {"free": {}, "beta": {}}
    for name in categories:
        pairs, count = np.unique(np.stack([n_people, ticks[:, STM_CATEGORIES.index(name)]], axis=1), axis=0,
                                 return_counts=True)
        weights, log_likelihood = _free_fit(pairs, count, grid)
        fits["free"][name] = {"roc_auc": _auc_of_knowing_q(weights, p_holds), "log_likelihood": log_likelihood}
        a, b, log_likelihood = _beta_fit(pairs, count)
        fits["beta"][name] = {"roc_auc": _auc_of_knowing_q(np.diff(stats.beta.cdf(edges, a, b)), p_holds),
                              "log_likelihood": log_likelihood, "alpha": a, "beta": b}
    return {"threshold": threshold, "people_per_image": dict(zip(map(str, people.tolist()), share.tolist())),
            **{fit: {"per_category": v, "mean_roc_auc": float(np.mean([x["roc_auc"] for x in v.values()]))}
               for fit, v in fits.items()}}


def _free_fit(pairs: np.ndarray, count: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, float]:
    """Maximum-likelihood weights of q on ``grid`` for ``count`` images of each ``(n, k)`` pair
    (EM, to convergence), and the log-likelihood."""
    from scipy import stats

    likelihood = stats.binom.pmf(pairs[:, 1:2], pairs[:, :1], grid[None, :])  # (pairs, grid)
    weights, previous = np.full(len(grid), 1.0 / len(grid)), -np.inf
    for _ in range(20000):
        mixed = likelihood @ weights
        log_likelihood = float(count @ np.log(mixed))
        if log_likelihood - previous < 1e-9:
            break
        previous = log_likelihood
        weights = weights * ((count / mixed) @ likelihood) / count.sum()
    return weights, log_likelihood


def _beta_fit(pairs: np.ndarray, count: np.ndarray) -> tuple[float, float, float]:
    """Beta-binomial maximum likelihood: ``alpha, beta`` of q and the log-likelihood."""
    from scipy import optimize, special

    n, k = pairs[:, 0], pairs[:, 1]
    log_choose = special.gammaln(n + 1) - special.gammaln(k + 1) - special.gammaln(n - k + 1)

    def minus_log_likelihood(log_ab):
        a, b = np.exp(log_ab)
        return -float(count @ (log_choose + special.betaln(k + a, n - k + b) - special.betaln(a, b)))

    best = optimize.minimize(minus_log_likelihood, [0.0, 0.0], method="Nelder-Mead", bounds=[(-9, 9), (-9, 9)],
                             options={"xatol": 1e-6, "fatol": 1e-9})
    a, b = np.exp(best.x)
    return float(a), float(b), -float(best.fun)


def _auc_of_knowing_q(weights: np.ndarray, p_holds: np.ndarray) -> float:
    """ROC AUC of the score q itself, q distributed by ``weights`` on an ascending grid and the
    label holding with probability ``p_holds`` at each grid value (ties count half)."""
    positive, negative = weights * p_holds, weights * (1 - p_holds)
    positive, negative = positive / positive.sum(), negative / negative.sum()
    below = np.cumsum(negative) - negative  # negatives of a lower q
    return float(np.sum(positive * (below + negative / 2)))


def binarise(scores: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Mean scores ``(N, C)`` → 0/1 float32: a category holds when its score > ``threshold``."""
    return (np.asarray(scores) > threshold).astype(np.float32)


def keep_mask(table: dict[str, np.ndarray], min_agreement: float = 0.0,
              min_height_fraction: float = 0.0) -> tuple[np.ndarray, dict[str, int]]:
    """Images kept by the agreement and stopped-early filters, and how many each dropped."""
    low_agreement = table["agreement"] < min_agreement
    stopped = table["orig_height"] < min_height_fraction * table["orig_width"]
    keep = ~(low_agreement | stopped)
    return keep, {"dropped_low_agreement": int(low_agreement.sum()),
                  "dropped_stopped_early": int((stopped & ~low_agreement).sum()), "kept": int(keep.sum())}


def score_weights(scores: np.ndarray) -> np.ndarray:
    """Training sample weights ∝ mean scores, each category carrying the same total weight.

    ``w_i ∝ Σ_c s_ic / Σ_j s_jc`` (categories nobody ticked are skipped); images with all
    scores 0 get the smallest positive weight, so they still count as negatives. Mean 1.
    """
    scores = np.asarray(scores, np.float64)
    totals = scores.sum(axis=0)
    used = totals > 0
    w = (scores[:, used] / totals[used]).sum(axis=1)
    positive = w[w > 0]
    w[w <= 0] = positive.min() if positive.size else 1.0
    return (w / w.mean()).astype(np.float32)


def oversample_repeats(targets: np.ndarray, max_repeat: int) -> np.ndarray:
    """How many times to repeat each training image so rare categories are seen more.

    An image that holds category c is repeated ``round(n_max / n_c)`` times (n_c: images
    holding c, n_max: of the most common category), the largest over its categories, capped
    at ``max_repeat``; images holding none are kept once.
    """
    targets = np.asarray(targets) > 0.5
    counts = targets.sum(axis=0)
    if max_repeat <= 1 or counts.max() == 0:
        return np.ones(len(targets), np.int64)
    ratio = np.where(counts > 0, np.round(counts.max() / np.maximum(counts, 1)), 1)
    per_image = np.where(targets, ratio[None, :], 1).max(axis=1)
    return np.clip(per_image, 1, max_repeat).astype(np.int64)


def series_of(name: str) -> str:
    """The scan series of an image name: ``..._Spectroscopy--10_3.png`` → ``..._Spectroscopy--10``."""
    return re.sub(r"_\d+(\.\w+)?$", "", name)


def merge_groups(*labellings: list[str]) -> list[str]:
    """Join items that share a label in any labelling (union–find); one group name per item."""
    parent = list(range(len(labellings[0])))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for labels in labellings:
        first: dict[str, int] = {}
        for i, label in enumerate(labels):
            if label in first:
                parent[root(i)] = root(first[label])
            else:
                first[label] = i
    return [str(root(i)) for i in range(len(parent))]


def find_images_npz(root: Path) -> Path:
    found = sorted(root.glob("images_*.npz"))
    if len(found) != 1:
        raise InputError(f"data.path: {root} must hold exactly one images_<size>.npz, found {len(found)}")
    return found[0]


def load_stm(cfg: dict[str, Any], pre: Preprocessing, splits: tuple[str, ...] = SPLITS) -> Dataset:
    """The STM set as a multi-label :class:`Dataset` (see the module doc for every decision)."""
    root = Path(cfg["path"])
    table = read_stm_table(root / "labels.csv")
    npz = find_images_npz(root)
    check_npz(npz)  # no array may unpack past the limit (stemsim.classifiers.limits)
    try:
        with np.load(npz, allow_pickle=False) as archive:
            images, names = archive["images"], [str(n) for n in archive["names"]]
    except Exception as error:
        raise InputError(f"{npz}: not a readable images npz ({error})") from None
    if names != list(table["name"]):
        raise InputError(f"{npz}: names differ from {root / 'labels.csv'} (same images in the same order expected)")
    keep, counts = keep_mask(table, cfg["min_agreement"], cfg["min_height_fraction"])
    columns = [STM_CATEGORIES.index(c) for c in cfg["categories"]]
    scores = table["scores"][:, columns]
    targets = binarise(scores, cfg["threshold"])
    index = np.flatnonzero(keep)
    # stratify by the rarest category an image holds (-1: none), group identical pixel arrays
    prevalence = targets[index].mean(axis=0)
    rarest = np.array([int(np.argmin(np.where(t > 0, prevalence, np.inf))) if t.any() else -1
                       for t in targets[index]])
    groups = [content_key(images[i]) for i in index]
    if cfg.get("split_group") == "series":
        groups = merge_groups(groups, [series_of(names[i]) for i in index])
    parts = split_groups(rarest, groups, cfg["val_fraction"], cfg["test_fraction"], cfg["split_seed"])
    out: dict[str, Split] = {}
    info: dict[str, Any] = {"format": "stm_si100", "images_file": str(npz), **counts,
                            "threshold": cfg["threshold"], "categories": list(cfg["categories"])}
    info["positives_per_split"] = {}
    for name in splits:
        rows = index[parts[name]]
        split = Split([pre.prepare(images[i]) for i in rows], targets[rows], [names[i] for i in rows])
        info["positives_per_split"][name] = dict(zip(cfg["categories"], split.targets.sum(axis=0).astype(int).tolist()))
        if name == "train":
            if cfg["targets"] == "score":
                split.soft_targets = scores[rows].astype(np.float32)
            if cfg["weighting"] == "score":
                split.weights = score_weights(scores[rows])
            repeats = oversample_repeats(split.targets, cfg["oversample_max_repeat"])
            if repeats.max() > 1:
                split = split.subset(np.repeat(np.arange(len(split)), repeats))
                if split.weights is not None:
                    split.weights = split.weights / split.weights.mean()
                info["oversampled_train_size"] = len(split)
        out[name] = split
    return Dataset(list(cfg["categories"]), True, out, info)


# ---- importer from the original public layout ---------------------------------------


def _normal(header: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(header).strip().lower()).strip("_")


def _read_sheet(path: Path, tab: str) -> list[list[Any]]:
    """Rows of one tab of an .xlsx (needs openpyxl) or of a .csv export of that tab."""
    if path.suffix.lower() == ".csv":
        with open(path, newline="") as handle:
            return [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        raise InputError(f"{path}: expected the summary spreadsheet (.xlsx) or a .csv export of its {tab} tab")
    try:
        import openpyxl
    except ImportError:
        raise InputError(f"{path}: reading .xlsx needs openpyxl (pip install openpyxl), "
                         f"or export the {tab} tab as .csv and pass that") from None
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:
        raise InputError(f"{path}: not a readable spreadsheet ({error})") from None
    if tab not in book.sheetnames:
        raise InputError(f"{path}: no tab {tab!r} (tabs: {', '.join(book.sheetnames)})")
    return [list(row) for row in book[tab].iter_rows(values_only=True) if any(c is not None for c in row)]


def _scores_from_rows(rows: list[list[Any]], source: Path) -> dict[str, dict[str, Any]]:
    header = [_normal(h) for h in rows[0]]
    wanted = {"name": "name", "no_responses": "n_responses", **{c: c for c in STM_CATEGORIES}}
    where = {}
    for column, key in wanted.items():
        if column not in header:
            raise InputError(f"{source}: Mean_Score has no column like {column!r} (found {rows[0]})")
        where[key] = header.index(column)
    out = {}
    for row in rows[1:]:
        try:
            out[str(row[where["name"]])] = {
                "n_responses": int(float(row[where["n_responses"]])),
                **{c: float(row[where[c]]) for c in STM_CATEGORIES}}
        except (TypeError, ValueError, IndexError):
            raise InputError(f"{source}: bad Mean_Score row {row}") from None
    return out


def _agreement_from_rows(rows: list[list[Any]], source: Path) -> dict[str, float]:
    header = [_normal(h) for h in rows[0]]
    if "name" not in header or "mean" not in header:
        raise InputError(f"{source}: Agreement_Score needs columns Name and Mean (found {rows[0]})")
    i, j = header.index("name"), header.index("mean")
    try:
        return {str(row[i]): float(row[j]) for row in rows[1:]}
    except (TypeError, ValueError, IndexError):
        raise InputError(f"{source}: a bad Agreement_Score row") from None


def box_resample(image: np.ndarray, size: int) -> np.ndarray:
    """Area-average an 8-bit image to ``size``×``size`` (float box filter, then rounded)."""
    area = np.asarray(Image.fromarray(image.astype(np.float32), mode="F").resize((size, size), Image.BOX))
    return np.clip(np.rint(area), 0, 255).astype(np.uint8)


def import_original(images_dir: str | Path, summary: str | Path, out_dir: str | Path, size: int = 128,
                    agreement: str | Path | None = None) -> dict[str, Any]:
    """Rebuild the STM folder from the original public layout.

    ``images_dir``: the colour-mapped PNGs (green channel = height, used unchanged);
    ``summary``: the Zooniverse summary spreadsheet (.xlsx, tabs Mean_Score and
    Agreement_Score) or a .csv export of its Mean_Score tab, with ``agreement`` optionally a
    .csv export of Agreement_Score (without it the agreement is computed from the mean
    scores: mean over categories of 2·|m − 0.5|, the spreadsheet's own definition).
    Each image is box-resampled (area average) to ``size``×``size``. Rows whose image is
    missing are skipped and counted. Writes ``images_<size>.npz`` and ``labels.csv`` into
    ``out_dir`` (written to temporary names first; nothing is left half-written).
    """
    images_dir, summary, out_dir = Path(images_dir), Path(summary), Path(out_dir)
    if not images_dir.is_dir():
        raise InputError(f"{images_dir}: no such image folder")
    if not summary.is_file():
        raise InputError(f"{summary}: no such summary file")
    scores = _scores_from_rows(_read_sheet(summary, "Mean_Score"), summary)
    agree: dict[str, float] | None = None
    if agreement is not None:
        agreement = Path(agreement)
        if not agreement.is_file():
            raise InputError(f"{agreement}: no such agreement file")
        agree = _agreement_from_rows(_read_sheet(agreement, "Agreement_Score"), agreement)
    elif summary.suffix.lower() != ".csv":
        agree = _agreement_from_rows(_read_sheet(summary, "Agreement_Score"), summary)

    arrays, rows, missing = [], [], []
    for name, row in scores.items():
        path = images_dir / name
        if not path.is_file():
            missing.append(name)
            continue
        image = read_image(path)
        height = image[..., 1] if image.ndim == 3 else image  # green channel = height value
        if height.dtype != np.uint8:
            raise InputError(f"{path}: expected an 8-bit colour-mapped PNG, got {height.dtype}")
        small = box_resample(height, size)
        mean = np.array([row[c] for c in STM_CATEGORIES])
        computed = float(np.mean(2 * np.abs(mean - 0.5)))
        arrays.append(small)
        rows.append({"name": name, "n_responses": row["n_responses"], **{c: row[c] for c in STM_CATEGORIES},
                     "agreement": agree.get(name, computed) if agree else computed,
                     "orig_height": height.shape[0], "orig_width": height.shape[1]})
    if not rows:
        raise InputError(f"{images_dir}: none of the {len(scores)} images named in {summary} is there")
    out_dir.mkdir(parents=True, exist_ok=True)
    npz_path, csv_path = out_dir / f"images_{size}.npz", out_dir / "labels.csv"
    tmp_npz = tempfile.NamedTemporaryFile(dir=out_dir, suffix=".npz.tmp", delete=False)
    tmp_csv = tempfile.NamedTemporaryFile(dir=out_dir, suffix=".csv.tmp", delete=False, mode="w", newline="")
    try:
        with tmp_npz:
            np.savez_compressed(tmp_npz, images=np.stack(arrays), names=np.array([r["name"] for r in rows]))
        with tmp_csv:
            writer = csv.DictWriter(tmp_csv, fieldnames=list(LABEL_COLUMNS))
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp_npz.name, npz_path)
        os.replace(tmp_csv.name, csv_path)
    finally:
        for tmp in (tmp_npz.name, tmp_csv.name):
            if os.path.exists(tmp):
                os.unlink(tmp)
    return {"images": len(rows), "missing_images": len(missing), "size": size,
            "files": [str(npz_path), str(csv_path)]}
