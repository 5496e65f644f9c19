"""Majority-polling families (``family`` rows) against the single models of their member
architecture that learnt the same targets."""

from __future__ import annotations

from pathlib import Path

from stemsim.benchmarks.sections.base import Section, fmt, register

METRICS = ("ROC AUC", "balanced accuracy")


def _auc_and_balanced(row: dict) -> tuple[float, float]:
    m = row["metrics"]
    return m.get("roc_auc_macro"), m.get("mean_category_balanced_accuracy", m.get("balanced_accuracy"))


@register
class Family(Section):
    """``analyses.family``: per family row ``{name, member, group_size, every, scores: [auc,
    balanced], singles: {name: [auc, balanced]}, higher: [metric, ...], members}``; ``higher``
    lists the metrics on which the family beats every single."""

    name = "family"
    place = "summary"

    def compute(self, results: dict, bench: dict, out: Path | None) -> list | None:
        found = []
        for family in (r for r in results["models"] if r.get("family")):
            member, k = family["family"]["member"], family["family"]["group_size"]
            singles = {r["name"]: _auc_and_balanced(r) for r in results["models"]
                       if r["model"] == member and r.get("targets") == family.get("targets")}
            if not singles:
                continue
            own = _auc_and_balanced(family)
            higher = [metric for i, metric in enumerate(METRICS) if all(own[i] > other[i] for other in singles.values())]
            found.append({"name": family["name"], "member": member, "group_size": k,
                          "every": family["family"].get("members_learn") == "all", "scores": list(own),
                          "singles": {name: list(s) for name, s in singles.items()}, "higher": higher,
                          "members": family["family"].get("members")})
        return found or None

    def render(self, results: dict) -> list[str]:
        lines = []
        for f in self.numbers(results) or []:
            member, k, singles = f["member"], f["group_size"], f["singles"]
            auc, balanced = f["scores"]
            against = "; ".join(f"{name}'s {a:.3f} and {fmt(b)}" for name, (a, b) in singles.items())
            members = f"its single member{'s' * (len(singles) > 1)}"
            higher = f["higher"]
            verdict = (f"it beats {members} on both" if len(higher) == len(METRICS) else
                       f"it does NOT beat {members}: higher on {higher[0]} only" if higher else
                       f"it does NOT beat {members}: higher on neither")
            who = (f"{k} {member} members each learning every category" if f["every"]
                   else f"{k} {member} members per category")
            line = (f"Family: {f['name']} ({who}, majority vote) scores mean ROC "
                    f"AUC {auc:.3f} and mean balanced accuracy {fmt(balanced)}, against {against}: {verdict}.")
            own = f["members"]
            if own and own["mean_member_roc_auc"] is not None:
                how = "all categories" if f["every"] else "one-vs-rest"
                line += (f" Its members on their own ({how}, each with its own initialisation) score mean ROC AUC "
                         f"{own['mean_member_roc_auc']:.3f}, and a category's {k} members vote alike on "
                         f"{fmt(own['unanimous'])} of the test images: a vote adds what its members disagree on.")
            lines.append(line)
        return lines


def family_lines(results: dict) -> list[str]:
    """One sentence per majority-polling family row: does it beat the bench's single models of
    its member architecture that learnt the same targets (``data.targets``, on data that has
    them) on mean ROC AUC and on mean balanced accuracy (the test split)?"""
    return Family().render(results)
