"""Thickness laws fitted to the multislice reference (#26), and its files.

Reads and writes ``results/fidelity/thickness_law.json`` (+ ``.csv``, ``.png``); no abTEM.
A law gives the HAADF fraction I(t) of the incident beam at thickness t (nm).  The forms, in
order of preference (the first whose worst relative residual is within ``TOLERANCE`` is the
one the calibration table ships; if none is, the one with the smallest worst residual):

- ``power``:       I = a · t^b
- ``saturating``:  I = a · λ · (1 − exp(−t/λ))              (a: the thin-limit I/t)
- ``relaxing``:    I = t · (c_inf + (c0 − c_inf) · exp(−t/τ))  (I/t relaxes from c0 to c_inf)
- ``channelling``: I = t · (c_inf + (c0 − c_inf + g·t) · exp(−t/τ))
  (on a zone axis I/t first rises — the probe is drawn onto the columns — then falls)
- ``table``: I = t · (I/t interpolated linearly between the stored points; constant beyond
  them), shipped where no form above is within TOLERANCE (zone axes: I/t oscillates as the
  channelled wave beats with depth).  Its ``leave_one_out`` is the worst error at a point
  interpolated from the others.

The ``random`` cases (orientations off the zone axes only, planar channelling allowed) are a
diagnostic of the orientation spread, not shipped in ``laws``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

TOLERANCE = 0.03
LAWS_DOC = ("HAADF fraction I(t) of the incident beam, t in nm. power: a*t**b; saturating: "
            "a*lambda_nm*(1-exp(-t/lambda_nm)); relaxing: t*(c_inf+(c0-c_inf)*exp(-t/tau_nm)); "
            "channelling: t*(c_inf+(c0-c_inf+g*t)*exp(-t/tau_nm)); table: t*interp(t, t_nm, i_per_nm) "
            "(linear, constant beyond the ends). number_density_per_nm3: atoms per nm^3.")
SHIPPED = ("off_axis", "001", "011", "amorphous")  # the orientation classes of the calibration table


def _power(t, a, b):
    return a * t ** b


def _saturating(t, a, lam):
    return a * lam * -np.expm1(-t / lam)


def _relaxing(t, c0, c_inf, tau):
    return t * (c_inf + (c0 - c_inf) * np.exp(-t / tau))


def _channelling(t, c0, c_inf, g, tau):
    return t * (c_inf + (c0 - c_inf + g * t) * np.exp(-t / tau))


LAWS = {  # function, parameter names, first guess (t, I), lower bounds
    "power": (_power, ("a", "b"), lambda t, i: [i[-1] / t[-1], 1.0], [0, 0]),
    "saturating": (_saturating, ("a", "lambda_nm"), lambda t, i: [i[0] / t[0], 2 * t[-1]], [0, 1e-3]),
    "relaxing": (_relaxing, ("c0", "c_inf", "tau_nm"), lambda t, i: [i[0] / t[0], i[-1] / t[-1], 3.0],
                 [0, 0, 1e-3]),
    "channelling": (_channelling, ("c0", "c_inf", "g", "tau_nm"),
                    lambda t, i: [i[0] / t[0], i[-1] / t[-1], 0.0, 5.0], [0, 0, -np.inf, 1e-3]),
}


def evaluate_law(law: dict, t) -> np.ndarray:
    """The HAADF fraction at thickness ``t`` (nm) of a fitted law (a ``laws`` entry)."""
    if law["form"] == "table":
        t = np.asarray(t, float)
        return t * np.interp(t, law["t_nm"], law["i_per_nm"])
    function, names, _, _ = LAWS[law["form"]]
    return function(np.asarray(t, float), *[law[name] for name in names])


def fit_law(t, intensity, form: str) -> dict:
    """Least squares on the relative residuals; the parameters, residuals and the worst one."""
    function, names, guess, lower = LAWS[form]
    t, intensity = np.asarray(t, float), np.asarray(intensity, float)
    result = least_squares(lambda p: function(t, *p) / intensity - 1, guess(t, intensity),
                           bounds=(lower, [np.inf] * len(names)), x_scale="jac")
    law = {"form": form, **dict(zip(names, map(float, result.x)))}
    residual = evaluate_law(law, t) / intensity - 1
    return {**law, "residuals": residual.round(5).tolist(), "max_abs_residual": float(np.abs(residual).max())}


def table_law(t, intensity) -> dict:
    """The points themselves, I/t interpolated linearly; ``leave_one_out``: each interior point
    predicted from the others."""
    t, ratio = np.asarray(t, float), np.asarray(intensity, float) / np.asarray(t, float)
    miss = [np.interp(t[i], np.delete(t, i), np.delete(ratio, i)) / ratio[i] - 1 for i in range(1, len(t) - 1)]
    return {"form": "table", "t_nm": t.round(4).tolist(), "i_per_nm": ratio.round(7).tolist(),
            "residuals": [0.0] * len(t), "max_abs_residual": 0.0,
            "leave_one_out": float(np.abs(miss).max()), "leave_one_out_residuals": np.round(miss, 5).tolist()}


def fit_laws(series: dict) -> dict:
    """Every form fitted; ``best``: the first within TOLERANCE, else the table of the points."""
    fits = {form: fit_law(series["thickness_nm"], series["intensity"], form) for form in LAWS}
    fits["table"] = table_law(series["thickness_nm"], series["intensity"])
    within = [form for form in LAWS if fits[form]["max_abs_residual"] <= TOLERANCE]
    return {"best": within[0] if within else "table", **fits}


def calibration(cases: list[dict]) -> dict:
    """The table the contrast model reads: per material its Z, number density and one law per
    orientation (off_axis, 001, 011; amorphous for carbon)."""
    table: dict = {}
    for case in (c for c in cases if c["orientation"] in SHIPPED):
        entry = table.setdefault(case["material"], {"Z": case["Z"],
                                                    "number_density_per_nm3": case["number_density_per_nm3"]})
        law = {k: v for k, v in case["fits"][case["fits"]["best"]].items() if not k.endswith("residuals")}
        entry[case["orientation"]] = {**law, "valid_nm": [case["thickness_nm"][0], case["thickness_nm"][-1]]}
    return table


def refit(payload: dict) -> dict:
    """The laws, residuals and calibration table again from the stored points."""
    for case in payload["cases"]:
        case["fits"] = fit_laws(case)
    payload["laws_doc"] = LAWS_DOC
    payload["laws"] = calibration(payload["cases"])
    return payload


def write_outputs(out: Path, payload: dict) -> None:
    """thickness_law.json, .csv (one row per point) and .png (I/t against t)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "thickness_law.json").write_text(json.dumps(payload, indent=1) + "\n")
    rows = ["material,orientation,thickness_nm,intensity,sem,intensity_per_nm,law,law_intensity,residual"]
    for case in payload["cases"]:
        law = case["fits"][case["fits"]["best"]]
        fitted = evaluate_law(law, case["thickness_nm"])
        for t, i, s, f in zip(case["thickness_nm"], case["intensity"], case["sem"], fitted):
            rows.append(f"{case['material']},{case['orientation']},{t:.4f},{i:.6e},{s:.2e},{i / t:.6e},"
                        f"{law['form']},{f:.6e},{f / i - 1:+.4f}")
    (out / "thickness_law.csv").write_text("\n".join(rows) + "\n")
    plot(out / "thickness_law.png", payload["cases"])


LABELS = {"off_axis": "off axis", "001": "[001]", "011": "[011]", "amorphous": "amorphous",
          "random": "random orientations (diagnostic)"}
COLOURS = {"off_axis": "C0", "001": "C3", "011": "C2", "amorphous": "C7", "random": "C1"}


def plot(path: Path, cases: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    materials = list(dict.fromkeys(case["material"] for case in cases))
    fig, axes = plt.subplots(1, len(materials), figsize=(4.3 * len(materials), 3.7))
    for ax, material in zip(np.atleast_1d(axes), materials):
        for case in (c for c in cases if c["material"] == material):
            t, i, s = (np.asarray(case[k]) for k in ("thickness_nm", "intensity", "sem"))
            colour = COLOURS[case["orientation"]]
            law = case["fits"][case["fits"]["best"]]
            if case["orientation"] not in SHIPPED:
                ax.errorbar(t, i / t, yerr=s / t, fmt="s", ms=3, mfc="none", color=colour, capsize=2,
                            label=LABELS[case["orientation"]])
                continue
            quality = (f"table, leave-one-out {law['leave_one_out']:.1%}" if law["form"] == "table"
                       else f"{law['form']}, worst {law['max_abs_residual']:.1%}")
            ax.errorbar(t, i / t, yerr=s / t, fmt="o", ms=3.5, color=colour, capsize=2,
                        label=f"{LABELS[case['orientation']]} ({quality})")
            grid = np.linspace(0.25, t.max(), 300)
            ax.plot(grid, evaluate_law(law, grid) / grid, "-", color=colour, lw=1, alpha=0.8)
        ax.set_title(f"{material}: abTEM HAADF 70–200 mrad, 200 kV", fontsize=10)
        ax.set_xlabel("thickness t (nm)")
        ax.set_ylabel("I / t (fraction of the beam per nm)")
        ax.set_xlim(0, None)
        ax.set_ylim(0, None)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
