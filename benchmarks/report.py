"""Printing :class:`~benchmarks.figures.Figure` lists: one table, or JSON."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from benchmarks.figures import Figure


def number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"
    return f"{text} {unit}".strip()


def table(figures: Sequence[Figure]) -> str:
    """A plain-text table: figure, value, baseline and ratio, target and whether met."""
    header = ("part", "figure", "value", "baseline (same run)", "ratio", "target", "met")
    lines = [header]
    notes = []
    for figure in figures:
        if figure.target_ratio is not None:
            target = f"≥ {figure.target_ratio:g}x baseline"
        elif figure.target is not None:
            sign = "≥" if figure.better == "higher" else "≤"
            target = f"{sign} {number(figure.target, figure.unit)}"
        else:
            target = "-"
        met = {True: "yes", False: "NO", None: "-"}[figure.met]
        baseline = (
            f"{number(figure.baseline_value, figure.unit)} ({figure.baseline_name})"
            if figure.baseline_name
            else "-"
        )
        ratio = f"{figure.ratio:.2f}x" if figure.ratio is not None else "-"
        lines.append(
            (
                figure.part,
                figure.name,
                number(figure.value, figure.unit),
                baseline,
                ratio,
                target,
                met,
            )
        )
        if figure.note:
            notes.append(f"  {figure.part}: {figure.name}: {figure.note}")
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    ]
    text.insert(1, "  ".join("-" * width for width in widths))
    if notes:
        text += ["", "notes:", *notes]
    return "\n".join(text)


def as_json(figures: Sequence[Figure]) -> str:
    return orjson.dumps([f.to_json() for f in figures], option=orjson.OPT_INDENT_2).decode()
