"""Pixel-wise maps from images: data, training, scoring, and features for a second stage.

The U-Net of :mod:`stemsim.classifiers.models.unet` learns, from the ground truth a ``stemsim``
dataset stores in its npz shards (``output.ground_truth: true``), three maps per image:
the particle mask, the projected thickness in nm, and heat-maps of the projected vertex
positions (every vertex; the deformed ones). Everything here works on arrays:

* :func:`load_maps` reads images + ground truth of one split, ``(N, H, W)`` (views flattened;
  :mod:`stemsim.classifiers.map_data`, through the dataset store);
* :func:`vertex_heatmaps` renders the vertex targets (Gaussians of σ = :data:`SIGMA_PX` pixels);
* :func:`train_unet` fits the network (per-image standardised input, flips and 90° turns);
* :func:`predict_maps` runs it on images of any size;
* :func:`find_vertices`, :func:`map_metrics` score the maps against the truth;
* :func:`map_features` turns one image's maps into the feature vector of the two-stage
  classifier (:mod:`stemsim.classifiers.two_stage`), named by :data:`MAP_FEATURE_NAMES`.

Scoring definitions (all at the dataset's own resolution)
    mask IoU: per image, predicted mask (probability > 0.5) against the true mask.
    Thickness relative error: per image, ``Σ|t̂ − t| / Σ t`` over the whole map (nm).
    Volume: ``Σ t · a`` with ``a`` the pixel area (nm²); the truth's sum is the particle
    volume up to the sampling of the exact projected thickness (< 0.1 % in the simulator tests);
    relative error ``|V̂ − V| / V``.
    Vertices: peaks of a heat-map channel above ``threshold`` at least ``min_distance``
    pixels apart. Recall: the fraction of true vertices inside the field (the *visible* ones)
    with a peak within :data:`MATCH_RADIUS_PX` — two vertices that project onto one spot are
    both found by one peak, as a projection cannot separate them. Precision: the fraction of
    peaks within the match radius of a true vertex inside the field grown by the match radius
    (a corner just outside the scan still ends its edges at the border). Both are pooled over
    all images.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from stemsim.classifiers.map_data import MAP_KEYS, MapData, dataset_pixel_size, load_maps, load_sites  # noqa: F401
from stemsim.errors import InputError

SIGMA_PX = 1.5
"""Gaussian σ of the vertex heat-maps, pixels."""
MATCH_RADIUS_PX = 2 * SIGMA_PX
"""A detected vertex within this many pixels of a true one is a hit (2σ: closer sites make one peak)."""
PEAK_THRESHOLD = 0.3
VERTEX_MASS = 2 * math.pi * SIGMA_PX ** 2
"""Heat-map mass of one vertex (a unit Gaussian of σ = :data:`SIGMA_PX`): heat mass / this = a soft count."""
PEAK_MIN_DISTANCE = 2  # pixels: peaks closer than the match radius may both stand


# ---- targets and inputs -------------------------------------------------------------


def standardize(images: np.ndarray) -> np.ndarray:
    """``(N, H, W)`` (or ``(N, H, W, 1)``) → float32 ``(N, H, W, 1)``, zero mean and unit
    standard deviation per image, so that any dtype or intensity scaling gives the same input."""
    x = np.asarray(images, np.float32)
    if x.ndim == 4:
        x = x[..., 0]
    mean = x.mean(axis=(1, 2), keepdims=True)
    std = x.std(axis=(1, 2), keepdims=True)
    return ((x - mean) / np.maximum(std, 1e-6))[..., None]


def vertex_heatmaps(sites: np.ndarray, shape: tuple[int, int], sigma: float = SIGMA_PX) -> np.ndarray:
    """Sites ``(N, S, 3)`` (column, row, deformed; NaN rows ignored) → float32 ``(N, H, W, 2)``:
    channel 0 ``1 − Π(1 − g)`` over unit Gaussians ``g`` at every site (the probability-like
    union of the sites), channel 1 the same over the deformed sites."""
    height, width = shape
    rows = np.arange(height, dtype=np.float32)[None, None, :, None]
    cols = np.arange(width, dtype=np.float32)[None, None, None, :]
    valid = np.isfinite(sites[..., 0])
    col = np.where(valid, sites[..., 0], -1e4)[..., None, None]
    row = np.where(valid, sites[..., 1], -1e4)[..., None, None]
    gauss = np.exp(-((cols - col) ** 2 + (rows - row) ** 2) / (2 * sigma ** 2))  # (N, S, H, W)
    deformed = (np.nan_to_num(sites[..., 2]) > 0.5)[..., None, None]
    # "any site here": 1 − Π(1 − g) stays ≤ 1 without the flat tops that clipping a sum makes
    heat = np.stack([1 - np.prod(1 - gauss, axis=1), 1 - np.prod(1 - np.where(deformed, gauss, 0.0), axis=1)],
                    axis=-1)
    return heat.astype(np.float32)


def _augment(arrays: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """The same random flips and 90° turn of every ``(B, H, W, C)`` array, per sample."""
    out = [a.copy() for a in arrays]
    for i in range(len(arrays[0])):
        k, flip = int(rng.integers(4)), bool(rng.integers(2))
        for a in out:
            sample = np.rot90(a[i], k, axes=(0, 1))
            a[i] = sample[:, ::-1] if flip else sample
    return out


def _batches_class():
    import keras

    class MapBatches(keras.utils.PyDataset):
        """Batches ``(standardised image, {mask, thickness, vertices})``; augmented when ``seed``
        is given (a new draw every epoch, from that seed)."""

        def __init__(self, data: MapData, batch_size: int, seed: int | None):
            super().__init__()
            self.data, self.batch_size, self.seed, self.epoch = data, batch_size, seed, 0
            self.order = np.arange(len(data))
            self.on_epoch_end()

        def __len__(self) -> int:
            return math.ceil(len(self.data) / self.batch_size)

        def on_epoch_end(self) -> None:
            if self.seed is not None:
                self.rng = np.random.default_rng([self.seed, self.epoch])
                self.order = self.rng.permutation(len(self.data))
            self.epoch += 1

        def __getitem__(self, index: int):
            pick = np.sort(self.order[index * self.batch_size:(index + 1) * self.batch_size])
            d = self.data
            arrays = [standardize(d.images[pick]), d.mask[pick, ..., None].astype(np.float32),
                      d.thickness[pick, ..., None], vertex_heatmaps(d.sites[pick], d.images.shape[1:])]
            if self.seed is not None:
                arrays = _augment(arrays, self.rng)
            return arrays[0], {"mask": arrays[1], "thickness": arrays[2], "vertices": arrays[3]}

    return MapBatches


def train_unet(train: MapData, val: MapData, *, width: int = 8, depth: int = 3, epochs: int = 10,
               batch_size: int = 16, learning_rate: float = 2e-3, seed: int = 0,
               verbose: int = 0) -> tuple[Any, list[dict[str, float]]]:
    """Fit :func:`stemsim.classifiers.models.unet.unet` on ``train`` (best ``val_loss`` weights kept);
    returns ``(model, history rows)``.

    Loss: binary cross-entropy of the mask + mean absolute thickness error in units of 2 nm +
    10 × binary cross-entropy of the vertex heat-maps (soft Gaussian targets; the factor
    keeps the rare vertex pixels from being drowned by the background).
    """
    import keras

    from stemsim.classifiers.models.unet import unet

    side = 2 ** depth
    if train.images.shape[1] % side or train.images.shape[2] % side:
        raise InputError(f"model.unet_depth: {depth} needs image sides that are multiples of {side}, "
                         f"got {train.images.shape[1:]}")
    keras.utils.set_random_seed(seed)
    model = unet((None, None, 1), width=width, depth=depth)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss={"mask": "binary_crossentropy", "thickness": "mae", "vertices": "binary_crossentropy"},
                  loss_weights={"mask": 1.0, "thickness": 0.5, "vertices": 10.0})
    batches = _batches_class()
    keeper = _BestWeights()
    fit = model.fit(batches(train, batch_size, seed), validation_data=batches(val, batch_size, None),
                    epochs=epochs, verbose=verbose,
                    callbacks=[keeper.callback(), keras.callbacks.ReduceLROnPlateau(patience=2, factor=0.3)])
    keeper.restore(model)
    history = [{"epoch": e + 1, **{k: float(v[e]) for k, v in fit.history.items()}}
               for e in range(len(fit.history["loss"]))]
    return model, history


class _BestWeights:
    """Keeps the weights of the epoch with the lowest ``val_loss``."""

    def __init__(self):
        self.best, self.weights = np.inf, None

    def callback(self):
        import keras

        keeper = self

        class Keep(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                value = (logs or {}).get("val_loss", np.inf)
                if value < keeper.best:
                    keeper.best, keeper.weights = value, self.model.get_weights()

        return Keep()

    def restore(self, model) -> None:
        if self.weights is not None:
            model.set_weights(self.weights)


# ---- inference ------------------------------------------------------------------------


def predict_maps(model, images: Sequence[np.ndarray] | np.ndarray, batch_size: int = 32,
                 symmetric: bool = False) -> dict[str, np.ndarray]:
    """Run the map network on images ``(N, H, W)`` (one size; or a list of ``(H, W)``/``(H, W, 1)``
    of one size) → ``{"mask": (N, H, W) probability, "thickness": (N, H, W) nm,
    "vertices": (N, H, W, 2)}``. Sides are reflect-padded to the network's multiple and cropped back.

    ``symmetric``: average the maps of the image's 8 rotations by 90° and mirror images (each
    turned back): the true maps turn with the image, the network's mistakes mostly do not, so the
    average keeps the one and thins out the other (test-time augmentation; 8 passes)."""
    x = standardize(np.stack([np.asarray(im, np.float32).reshape(np.shape(im)[:2]) for im in images]))
    if not symmetric:
        return _predict_maps(model, x, batch_size)
    total: dict[str, np.ndarray] = {}
    for turns in range(4):
        for mirror in (False, True):
            turned = np.rot90(x, turns, axes=(1, 2))
            maps = _predict_maps(model, np.ascontiguousarray(turned[:, :, ::-1] if mirror else turned), batch_size)
            for key, value in maps.items():
                back = np.rot90(value[:, :, ::-1] if mirror else value, -turns, axes=(1, 2))
                total[key] = total[key] + back if key in total else back.copy()
    return {key: value / 8 for key, value in total.items()}


def _predict_maps(model, x: np.ndarray, batch_size: int) -> dict[str, np.ndarray]:
    n, height, width = x.shape[:3]
    depth = sum(1 for layer in model.layers if layer.name.startswith("pool"))
    side = 2 ** depth
    pad_h, pad_w = (-height) % side, (-width) % side
    if pad_h or pad_w:
        x = np.pad(x, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="reflect")
    out: dict[str, list] = {"mask": [], "thickness": [], "vertices": []}
    for i in range(0, n, batch_size):
        maps = model.predict_on_batch(x[i:i + batch_size])
        out["mask"].append(np.asarray(maps["mask"])[:, :height, :width, 0])
        out["thickness"].append(np.asarray(maps["thickness"])[:, :height, :width, 0])
        out["vertices"].append(np.asarray(maps["vertices"])[:, :height, :width])
    empty = {"mask": (0, height, width), "thickness": (0, height, width), "vertices": (0, height, width, 2)}
    return {k: np.concatenate(v).astype(np.float32) if v else np.zeros(empty[k], np.float32) for k, v in out.items()}


def find_vertices(heat: np.ndarray, threshold: float = PEAK_THRESHOLD,
                  min_distance: int = PEAK_MIN_DISTANCE) -> np.ndarray:
    """Peaks of one heat-map channel ``(H, W)`` → ``(k, 3)`` float (column, row, height), strongest first."""
    from skimage.feature import peak_local_max

    peaks = peak_local_max(heat, min_distance=min_distance, threshold_abs=threshold, exclude_border=False)
    return np.array([(c, r, heat[r, c]) for r, c in peaks], np.float64).reshape(-1, 3)


def visible_sites(sites: np.ndarray, shape: tuple[int, int], deformed_only: bool = False,
                  margin: float = 0.0) -> np.ndarray:
    """True vertex positions ``(k, 2)`` (column, row) inside the field grown by ``margin`` pixels."""
    keep = visible_mask(sites, shape, margin)
    if deformed_only:
        keep &= np.nan_to_num(sites[:, 2]) > 0.5
    return sites[keep, :2].astype(np.float64)


def visible_mask(sites: np.ndarray, shape: tuple[int, int], margin: float = 0.0) -> np.ndarray:
    """Which vertices of ``sites`` ``(S, ≥2)`` (column, row, ...) lie inside the field grown by
    ``margin`` pixels: bool ``(S,)``."""
    height, width = shape
    low = -0.5 - margin
    return (np.isfinite(sites[:, 0]) & (sites[:, 0] >= low) & (sites[:, 0] <= width - 1 - low)
            & (sites[:, 1] >= low) & (sites[:, 1] <= height - 1 - low))


def near_count(points: np.ndarray, others: np.ndarray, radius: float = MATCH_RADIUS_PX) -> int:
    """How many of ``points`` ``(a, ≥2)`` have one of ``others`` ``(b, ≥2)`` within ``radius``."""
    if not len(points) or not len(others):
        return 0
    from scipy.spatial.distance import cdist

    return int(np.sum(cdist(points[:, :2], others[:, :2]).min(axis=1) <= radius))


def map_metrics(maps: dict[str, np.ndarray], data: MapData) -> dict[str, Any]:
    """Score predicted maps (:func:`predict_maps`) against ``data``'s ground truth (module doc)."""
    truth_mask, truth_t = data.mask, data.thickness
    pred_mask = maps["mask"] > 0.5
    union = (pred_mask | truth_mask).sum(axis=(1, 2))
    iou = np.where(union > 0, (pred_mask & truth_mask).sum(axis=(1, 2)) / np.maximum(union, 1), 1.0)
    total = truth_t.sum(axis=(1, 2))
    thickness_error = np.abs(maps["thickness"] - truth_t).sum(axis=(1, 2)) / np.maximum(total, 1e-9)
    area = data.pixel_size ** 2
    volume_true, volume_pred = total * area, maps["thickness"].sum(axis=(1, 2)) * area
    volume_error = np.abs(volume_pred - volume_true) / np.maximum(volume_true, 1e-9)
    vertices: dict[str, Any] = {}
    for channel, name in ((0, "all"), (1, "deformed")):
        found_n = true_n = recalled = right = 0
        for i in range(len(data)):
            found = find_vertices(maps["vertices"][i, ..., channel])
            truth = visible_sites(data.sites[i], data.images.shape[1:], deformed_only=channel == 1)
            # a peak at the border for a vertex just outside the field is not a false detection
            near = visible_sites(data.sites[i], data.images.shape[1:], deformed_only=channel == 1,
                                 margin=MATCH_RADIUS_PX)
            found_n, true_n = found_n + len(found), true_n + len(truth)
            recalled, right = recalled + near_count(truth, found), right + near_count(found, near)
        vertices[name] = {"precision": right / found_n if found_n else None,
                          "recall": recalled / true_n if true_n else None,
                          "detected": found_n, "visible": true_n, "recalled": recalled}

    def summary(values: np.ndarray) -> dict[str, float]:
        return {"mean": float(np.mean(values)), "median": float(np.median(values)),
                "p95": float(np.percentile(values, 95))}

    return {
        "n_images": len(data),
        "mask_iou": summary(iou),
        "thickness_relative_error": summary(thickness_error),
        "volume_relative_error": {**summary(volume_error), "within_5_percent": float(np.mean(volume_error <= 0.05))},
        "vertices": vertices,
        "definitions": {"match_radius_px": MATCH_RADIUS_PX, "peak_threshold": PEAK_THRESHOLD,
                        "heatmap_sigma_px": SIGMA_PX, "pixel_size_nm": data.pixel_size},
    }


# ---- features for the second stage ----------------------------------------------------

MAP_FEATURE_NAMES: tuple[str, ...] = (
    "map_volume_nm3", "map_area_nm2", "map_volume_per_area_nm", "map_max_thickness_nm",
    "vertices_found", "deformed_found", "deformed_found_strict", "vertex_heat_count", "deformed_heat_count",
    "deformed_heat_fraction", "deformed_peak_max", "deformed_pair_distance_rel", "deformed_pair_distance_nm",
    "deformed_to_centre_rel",
    "pair_peak_min", "pair_midpoint_offset_rel", "pair_distance_over_widest",
    "pair_translate_residual_1", "pair_translate_residual_2", "pair_translate_residual_3",
)
"""Features of the maps themselves; :func:`map_features` appends the geometric features of
:data:`stemsim.classifiers.features.FEATURE_NAMES` computed on the predicted thickness map.

The ``pair_*`` features describe the two strongest deformed-vertex peaks against the cuboid
they sit on (:func:`pair_features`)."""

PAIR_PEAK_FLOOR = 0.02
"""Deformed-channel maxima this high can stand for one of the pair: the task says how many
corners are cut, so the two strongest peaks are the best guess even when they are faint."""


def pair_features(vertices: np.ndarray, deformed_heat: np.ndarray, centre: np.ndarray, size: float) -> list[float]:
    """Where the two strongest deformed peaks sit on a projected cuboid, scale-free.

    ``vertices`` ``(k, ≥2)`` (column, row) every-vertex peaks; ``deformed_heat`` ``(H, W)``;
    ``centre`` (column, row) of the particle (thickness-weighted: a cuboid's projected centre);
    ``size`` a length in pixels. Returns ``[weaker peak height]`` + :func:`pair_geometry` of
    the two peaks, each moved onto the every-vertex peak within the match radius (that
    channel places corners better); NaN where undefined.
    """
    from skimage.feature import peak_local_max

    peaks = peak_local_max(deformed_heat, min_distance=PEAK_MIN_DISTANCE, threshold_abs=PAIR_PEAK_FLOOR,
                           exclude_border=False, num_peaks=2)
    if len(peaks) < 2 or not size > 0:
        return [math.nan] * 6
    pair = peaks[:, ::-1].astype(np.float64)  # (row, column) → (column, row)
    others = np.asarray(vertices, np.float64)[:, :2].reshape(-1, 2)
    if len(others):
        from scipy.spatial.distance import cdist

        gaps = cdist(pair, others)
        for i in range(2):
            j = int(gaps[i].argmin())
            if gaps[i, j] <= MATCH_RADIUS_PX:
                pair[i] = others[j]
    return [float(min(deformed_heat[r, c] for r, c in peaks))] + pair_geometry(pair, others, centre, size)


def pair_geometry(pair: np.ndarray, vertices: np.ndarray, centre: np.ndarray, size: float) -> list[float]:
    """Where two corners ``pair`` ``(2, 2)`` (column, row) sit among a projected cuboid's
    vertices ``(k, 2)`` (the pair's own are left out within the match radius), scale-free.

    An orthographic projection of a cuboid keeps parallel lines parallel and lengths along
    them in proportion, so the projected vertex set is ``c ± a ± b ± c`` with 2-D vectors
    ``a, b, c``. The segment between two vertices then has, among the *other* vertex pairs, 3
    parallel translates of equal length when it is an edge, 1 when it is a face diagonal and
    none when it is a body diagonal, whose midpoint is the centre. Returns ``[|midpoint −
    centre| / size, pair distance / widest vertex distance, the 3 smallest |(p − q) ∓ (d₁ −
    d₂)| / size over other pairs]`` (NaN where undefined).
    """
    out = [math.nan] * 5
    if not size > 0:
        return out
    pair = np.asarray(pair, np.float64)
    others = np.asarray(vertices, np.float64)[:, :2].reshape(-1, 2)
    if len(others):
        from scipy.spatial.distance import cdist

        others = others[(cdist(others, pair).min(axis=1) > MATCH_RADIUS_PX)]
    step = pair[0] - pair[1]
    out[0] = float(np.hypot(*(pair.mean(axis=0) - centre)) / size)
    every = np.vstack([pair, others])
    widest = max(float(np.max(np.hypot(*(every[:, None] - every[None]).transpose(2, 0, 1)))), 1e-9)
    out[1] = float(np.hypot(*step) / widest)
    if len(others) >= 2:
        a, b = np.triu_indices(len(others), 1)
        differences = others[a] - others[b]
        residual = np.minimum(np.hypot(*(differences - step).T), np.hypot(*(differences + step).T)) / size
        best = np.sort(residual)[:3]
        out[2:2 + len(best)] = best.tolist()
    return out


def map_features(mask: np.ndarray, thickness: np.ndarray, heat: np.ndarray, pixel_size: float) -> np.ndarray:
    """One image's maps (mask probability, thickness nm, vertex heat ``(H, W, 2)``) → float64
    ``(len(MAP_FEATURE_NAMES) + len(FEATURE_NAMES),)``; NaN where a feature is undefined.

    The heat counts are the heat-map mass over the mass of one Gaussian (2πσ²): a soft count
    of vertices that still counts two vertices projected onto one spot as two.
    """
    from stemsim.classifiers.features import image_features

    area = pixel_size ** 2
    inside = mask > 0.5
    volume = float(thickness.sum() * area)
    footprint = float(inside.sum() * area)
    vertices, deformed = find_vertices(heat[..., 0]), find_vertices(heat[..., 1])
    vertex_mass, deformed_mass = float(heat[..., 0].sum()), float(heat[..., 1].sum())
    size = math.sqrt(footprint) if footprint > 0 else math.nan
    pair = math.nan
    if len(deformed) >= 2:
        pair = float(np.hypot(*(deformed[0, :2] - deformed[1, :2]))) * pixel_size
    centre = math.nan
    if len(deformed) and inside.any():
        rows, cols = np.nonzero(inside)
        centre = float(np.mean(np.hypot(deformed[:, 0] - cols.mean(), deformed[:, 1] - rows.mean()))) * pixel_size
    own = [volume, footprint, volume / footprint if footprint else math.nan, float(thickness.max()),
           len(vertices), len(deformed), int(np.sum(deformed[:, 2] > 0.6)) if len(deformed) else 0,
           vertex_mass / VERTEX_MASS, deformed_mass / VERTEX_MASS, deformed_mass / vertex_mass if vertex_mass > 0 else math.nan,
           float(heat[..., 1].max()), pair / size, pair, centre / size]
    weight = float(np.clip(thickness, 0, None).sum())
    if weight > 0:
        rows, cols = np.indices(thickness.shape)
        weights = np.clip(thickness, 0, None) / weight
        centre = np.array([(cols * weights).sum(), (rows * weights).sum()])
        own += pair_features(vertices, heat[..., 1], centre, math.sqrt(max(inside.sum(), 1)))
    else:
        own += [math.nan] * 6
    peak = float(thickness.max())
    geometric = image_features(thickness / peak if peak > 0 else thickness, pixel_size)
    return np.concatenate([np.array(own, np.float64), np.asarray(geometric, np.float64)])


def write_maps(folder: Path, stem: str, maps: dict[str, np.ndarray], index: int) -> list[Path]:
    """Write image ``index`` of :func:`predict_maps` output as ``STEM.mask.png`` (8-bit
    probability), ``STEM.thickness.tif`` (float32, nm), ``STEM.vertices.png`` (RGB: red every
    vertex, green the deformed ones) and ``STEM.vertices.json`` (detected peaks)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    mask = np.rint(np.clip(maps["mask"][index], 0, 1) * 255).astype(np.uint8)
    heat = np.clip(maps["vertices"][index], 0, 1)
    rgb = np.zeros((*heat.shape[:2], 3), np.uint8)
    rgb[..., 0], rgb[..., 1] = np.rint(heat[..., 0] * 255), np.rint(heat[..., 1] * 255)
    for name, image in ((f"{stem}.mask.png", Image.fromarray(mask)),
                        (f"{stem}.thickness.tif", Image.fromarray(maps["thickness"][index].astype(np.float32))),
                        (f"{stem}.vertices.png", Image.fromarray(rgb))):
        image.save(folder / name)
        written.append(folder / name)
    peaks = {name: find_vertices(heat[..., channel]).round(3).tolist()
             for channel, name in ((0, "vertices"), (1, "deformed"))}
    (folder / f"{stem}.vertices.json").write_text(json.dumps({"columns": ["column", "row", "height"], **peaks}))
    written.append(folder / f"{stem}.vertices.json")
    return written


MAP_TARGETS = {"mask_iou": 0.95, "thickness_relative_error": 0.05, "vertex_precision": 0.9, "vertex_recall": 0.9,
               "volume_relative_error": 0.05}
"""What the pixel-wise maps should reach on the test split at the standard noise (issue #7)."""


def map_rows(scores: dict[str, Any]) -> list[tuple[str, float | None, str, bool | None]]:
    """``(quantity, value, target text, reached)`` rows of :func:`map_metrics` output (means over
    images; vertex precision/recall pooled), for reports."""
    v = scores["vertices"]

    def row(name, value, target, at_least):
        reached = None if value is None else (value >= target if at_least else value <= target)
        return name, value, f"{'≥' if at_least else '≤'} {target:g}", reached

    return [row("mask IoU (mean)", scores["mask_iou"]["mean"], MAP_TARGETS["mask_iou"], True),
            row("thickness relative error (mean)", scores["thickness_relative_error"]["mean"],
                MAP_TARGETS["thickness_relative_error"], False),
            row("volume relative error (mean)", scores["volume_relative_error"]["mean"],
                MAP_TARGETS["volume_relative_error"], False),
            row("vertex precision (visible vertices)", v["all"]["precision"], MAP_TARGETS["vertex_precision"], True),
            row("vertex recall (visible vertices)", v["all"]["recall"], MAP_TARGETS["vertex_recall"], True),
            row("deformed-vertex precision", v["deformed"]["precision"], MAP_TARGETS["vertex_precision"], True),
            row("deformed-vertex recall", v["deformed"]["recall"], MAP_TARGETS["vertex_recall"], True)]


def maps_markdown(scores: dict[str, Any]) -> list[str]:
    """Markdown lines: the map scores against :data:`MAP_TARGETS`."""
    lines = [f"Pixel-wise maps of stage 1 on {scores['n_images']} images (definitions: "
             f"`classifiers/pixelwise.py`; match radius {scores['definitions']['match_radius_px']} px):", "",
             "| quantity | value | target | reached |", "|---|---|---|---|"]
    for name, value, target, reached in map_rows(scores):
        shown = "–" if value is None else f"{value:.4f}"
        lines.append(f"| {name} | {shown} | {target} | {'–' if reached is None else 'yes' if reached else 'no'} |")
    within = scores["volume_relative_error"]["within_5_percent"]
    lines += ["", f"Volume within 5 % of the truth for {within:.1%} of the images; median mask IoU "
                  f"{scores['mask_iou']['median']:.4f}, median thickness error "
                  f"{scores['thickness_relative_error']['median']:.4f}.", ""]
    return lines
