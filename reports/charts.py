"""Charts for the weekly report: matplotlib figures rendered to inline SVG.

Every chart must read in colour and in grey, so series differ by marker, line style and
hatch as well as colour (Okabe-Ito palette, safe for colour-blind readers). Each chart
carries a ``<title>`` and ``<desc>`` and an ``aria-labelledby`` so screen readers get a
text summary, and ids inside the SVG are prefixed per chart so that several charts can
live in one HTML page without id clashes. No text from the data (athlete or activity
names) is ever drawn in a chart: labels are ours, numbers are formatted by us.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")  # no display, no GUI toolkit: charts are rendered offline

import matplotlib.pyplot as plt  # noqa: E402
from markupsafe import Markup  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.dates import DateFormatter, date2num  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

# Okabe & Ito (2008) colour-blind-safe palette.
BLUE = "#0072B2"
ORANGE = "#E69F00"
GREEN = "#009E73"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
GREY = "#555555"
SKY = "#56B4E9"

_RC: Any = {  # Any: matplotlib types rc keys as a Literal union
    "svg.fonttype": "none",  # keep text as <text>: small, selectable, read by screen readers
    "svg.hashsalt": "gaitwatch",  # deterministic ids: same data -> same file
    "font.family": ["DejaVu Sans", "Liberation Sans", "sans-serif"],
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "legend.frameon": False,
    "hatch.linewidth": 0.8,
}


@dataclass(frozen=True)
class Chart:
    """One rendered chart: inline SVG markup plus its accessible title and summary."""

    key: str
    title: str
    caption: str  # one or two sentences a reader (or screen reader) gets instead of the picture
    svg: Markup  # empty Markup when there was nothing to draw
    has_data: bool


@dataclass(frozen=True)
class WeekPoint:
    """One ISO week of the load history (x axis of the load and session charts)."""

    iso_week: str
    distance_km: float | None
    load: float | None
    acwr: float | None
    runs: int
    cross_training: int
    strength: int
    current: bool = False


@dataclass(frozen=True)
class SpeedBin:
    """Median step length (m) in one speed bin (m/s, bin centre) and its quartiles."""

    speed_m_s: float
    median_m: float
    q1_m: float
    q3_m: float
    seconds: float


@dataclass(frozen=True)
class RunBalance:
    """Mean GCT balance (% left) of one run."""

    day: date
    left_pct: float
    this_week: bool


@dataclass(frozen=True)
class GctZones:
    """Garmin's GCT balance colour zones, as the larger side's share in %."""

    good_max: float = 50.7
    moderate_max: float = 52.2


SPEED_STEP_M_S = 0.25  # width of the speed bins the data layer aggregates into

_ID_RE = re.compile(r'\bid="([^"]+)"')
_HREF_RE = re.compile(r'(xlink:href|href)="#([^"]+)"')
_URL_RE = re.compile(r"url\(#([^)]+)\)")


def _to_inline_svg(fig: Figure, key: str, title: str, caption: str) -> Markup:
    """Serialise ``fig`` to SVG markup fit to sit inside an HTML page.

    Drops the XML prolog and the RDF metadata, makes the SVG scale with its container,
    prefixes every id (and every reference to it) with ``key`` and adds ``<title>``,
    ``<desc>``, ``role="img"`` and ``aria-labelledby``. ``title`` and ``caption`` are
    escaped here; the rest is matplotlib's own output, which escapes its text.
    """
    buf = io.StringIO()
    with plt.rc_context(_RC):  # svg.* settings are read at save time
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, flags=re.S)
    prefix = f"gw-{key}"
    svg = _ID_RE.sub(lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    svg = _HREF_RE.sub(lambda m: f'{m.group(1)}="#{prefix}-{m.group(2)}"', svg)
    svg = _URL_RE.sub(lambda m: f"url(#{prefix}-{m.group(1)})", svg)
    # Width/height in pt would fix the size; the viewBox alone lets CSS scale it.
    svg = re.sub(r'^<svg([^>]*?) width="[^"]+" height="[^"]+"', r"<svg\1", svg, count=1)
    head = (
        f'<svg role="img" aria-labelledby="{prefix}-title {prefix}-desc" '
        f'class="chart-svg" preserveAspectRatio="xMidYMid meet"'
    )
    svg = svg.replace("<svg", head, 1)
    close = svg.index(">", svg.index("<svg")) + 1
    accessible = (
        f'\n <title id="{prefix}-title">{escape(title)}</title>'
        f'\n <desc id="{prefix}-desc">{escape(caption)}</desc>'
    )
    return Markup(svg[:close] + accessible + svg[close:])  # built from escaped parts


def _figure(
    height: float = 3.4,
    rows: int = 1,
    *,
    legend_rows: tuple[int, ...] = (1,),
    left_in: float = 0.85,
    right_in: float = 0.25,
    ratios: tuple[float, ...] | None = None,
) -> tuple[Figure, list[Axes]]:
    """A 7.2 in wide figure with ``rows`` stacked axes sharing x, margins fixed in inches.

    Fixed margins rather than matplotlib's constrained layout, which doubles the cost of
    every chart (reports are rendered for every athlete-week). ``legend_rows`` is the
    number of legend lines above each axes (see :func:`_legend_top`).
    """
    width = 7.2
    line_in = 0.2  # one legend line at 8.5 pt, with spacing
    top_in = 0.12 + line_in * legend_rows[0]
    bottom_in = 0.62
    gaps = [0.18 + line_in * n for n in legend_rows[1:]]
    with plt.rc_context(_RC):
        fig, axes = plt.subplots(
            rows, 1, figsize=(width, height), squeeze=False, sharex=rows > 1,
            gridspec_kw={"height_ratios": list(ratios)} if ratios else None,
        )
    plot_h = height - top_in - bottom_in - sum(gaps)
    mean_h = plot_h / rows
    fig.subplots_adjust(
        left=left_in / width, right=1 - right_in / width,
        bottom=bottom_in / height, top=1 - top_in / height,
        hspace=(sum(gaps) / max(rows - 1, 1)) / mean_h if rows > 1 else 0.2,
    )
    return fig, [a for row in axes for a in row]


def _legend_top(ax: Axes, ncol: int, handles: list[Any] | None = None) -> None:
    """Legend in a row above the axes: never on top of the data. (The chart's title is the
    HTML heading above it, so the space above the axes is free.)"""
    kw: dict[str, Any] = {"loc": "lower left", "bbox_to_anchor": (0.0, 1.01), "ncol": ncol,
                          "fontsize": 8.5, "borderaxespad": 0.0, "handlelength": 2.4}
    if handles is not None:
        ax.legend(handles, [str(h.get_label()) for h in handles], **kw)
    else:
        ax.legend(**kw)


def _tint(colour: str, strength: float) -> str:
    """An opaque pale version of ``colour`` (mixed with white). Opaque rather than
    transparent because the SVG backend applies a face's opacity to its hatch as well, and
    the hatch is what tells zones apart in grey."""
    r, g, b, _ = to_rgba(colour)
    mix = [1 - strength * (1 - c) for c in (r, g, b)]
    return "#" + "".join(f"{round(255 * c):02x}" for c in mix)


def _hatched_span(ax: Axes, y0: float, y1: float, colour: str, strength: float,
                  hatch: str, hatch_colour: str, label: str | None) -> None:
    """A horizontal band with a pale face and a visible hatch."""
    ax.axhspan(y0, y1, facecolor=_tint(colour, strength), edgecolor="none", hatch=hatch,
               hatchcolor=hatch_colour, label=label)


def _empty(key: str, title: str, why: str) -> Chart:
    return Chart(key=key, title=title, caption=why, svg=Markup(""), has_data=False)


def _fmt(x: float | None, spec: str = ".1f") -> str:
    return "n/a" if x is None else format(x, spec)


def _week_label(iso_week: str) -> str:
    # "2026-W47" -> "W47": the year is in the page heading and the caption.
    return iso_week.split("-", 1)[-1]


def load_chart(weeks: Sequence[WeekPoint], acwr_band: tuple[float, float, float]) -> Chart:
    """Weekly running distance (bars) and load (line), and the ACWR below, last weeks.

    ``acwr_band`` is (low, high, spike): the shaded 'usual' band and the spike line.
    """
    key, title = "load", "Weekly distance, training load and ACWR"
    if not weeks or all(w.distance_km is None and w.load is None for w in weeks):
        return _empty(key, title, "No runs or training load in the last weeks.")
    with plt.rc_context(_RC):
        fig, (ax, ax_r) = _figure(
            height=4.8, rows=2, legend_rows=(1, 1), right_in=0.85, ratios=(3, 2)
        )
        x = list(range(len(weeks)))
        dist = [w.distance_km or 0.0 for w in weeks]
        bars = ax.bar(x, dist, color=SKY, edgecolor=BLUE, linewidth=0.8, label="Distance (km)")
        for bar, w in zip(bars, weeks, strict=True):
            if w.current:
                bar.set_hatch("///")
                bar.set_edgecolor("#000000")
                bar.set_linewidth(1.4)
        ax.set_ylabel("Running distance (km)")
        ax2 = ax.twinx()
        ax2.spines["right"].set_visible(True)
        ax2.grid(False)
        loads = [w.load if w.load is not None else float("nan") for w in weeks]
        ax2.plot(
            x, loads, color=VERMILLION, marker="s", linestyle="--", linewidth=1.6,
            label="Load (TRIMP units)",
        )
        ax2.set_ylabel("Weekly load (TRIMP units)")
        finite_loads = [v for v in loads if v == v]
        ax2.set_ylim(0, max(finite_loads + [1.0]) * 1.12)  # headroom: the line never touches the top
        bars.set_label("Distance (km); hatched: this week")
        _legend_top(ax, 2, [bars, *ax2.get_lines()])
        ax.set_ylim(0, max(dist + [1.0]) * 1.1)

        low, high, spike = acwr_band
        ax_r.axhspan(low, high, facecolor=_tint(GREEN, 0.15), edgecolor="none",
                     label=f"{low:g}-{high:g} usual range")
        ax_r.axhline(spike, color=VERMILLION, linestyle=":", linewidth=1.4,
                     label=f"{spike:g} spike line")
        acwr = [w.acwr if w.acwr is not None else float("nan") for w in weeks]
        ax_r.plot(x, acwr, color="#000000", marker="o", linestyle="-", linewidth=1.4,
                  label="ACWR (7 d / 28 d EWMA)")
        finite = [a for a in acwr if a == a]
        top = max(finite + [spike]) * 1.15
        ax_r.set_ylim(0, top)
        ax_r.set_ylabel("ACWR (ratio)")
        _legend_top(ax_r, 3)
        ax_r.set_xticks(x, [_week_label(w.iso_week) + (" *" if w.current else "") for w in weeks])
        ax_r.set_xlabel("ISO week (* this week)")
    cur = next((w for w in weeks if w.current), weeks[-1])
    caption = (
        f"Bars: running distance per week over {len(weeks)} weeks; dashed line with squares: "
        f"weekly load; lower panel: acute:chronic workload ratio. This week ({cur.iso_week}): "
        f"{_fmt(cur.distance_km)} km, load {_fmt(cur.load, '.0f')}, ACWR {_fmt(cur.acwr, '.2f')}."
    )
    return Chart(key, title, caption, _to_inline_svg(fig, key, title, caption), True)


def step_length_chart(
    this_week: Sequence[SpeedBin], baseline: Sequence[SpeedBin], ref_speed_m_s: float | None
) -> Chart:
    """Median step length per speed bin, this week (solid, circles) against the baseline
    (dashed, squares, with its interquartile band)."""
    key, title = "steplength", "Step length against speed: this week and baseline"
    if not this_week and not baseline:
        return _empty(key, title, "No running samples with speed and step length or cadence.")
    with plt.rc_context(_RC):
        fig, (ax,) = _figure(legend_rows=(2,))
        if baseline:
            bx = [b.speed_m_s for b in baseline]
            bx, q1, q3, med = _gapped(baseline)
            ax.fill_between(bx, q1, q3, facecolor=_tint(GREY, 0.18), edgecolor="none",
                            hatch="...", hatchcolor=GREY, label="Baseline middle 50 %")
            ax.plot(bx, med, color=GREY, marker="s", linestyle="--", linewidth=1.5,
                    label="Baseline median")
        if this_week:
            wx, _, _, wmed = _gapped(this_week)
            ax.plot(wx, wmed, color=BLUE, marker="o", linestyle="-", linewidth=2,
                    label="This week median")
        if ref_speed_m_s:
            ax.axvline(ref_speed_m_s, color=ORANGE, linestyle=":", linewidth=1.4,
                       label=f"Reference speed {ref_speed_m_s:.2f} m/s")
        ax.set_xlabel("Speed (m/s)")
        ax.set_ylabel("Step length (m)")
        _legend_top(ax, 2)
    parts = []
    if this_week:
        parts.append(f"This week spans {this_week[0].speed_m_s:.2f}-{this_week[-1].speed_m_s:.2f} m/s")
    else:
        parts.append("No running samples this week")
    parts.append(f"baseline has {len(baseline)} speed bins" if baseline else "no baseline yet")
    caption = (
        "Median step length (m) in each 0.25 m/s speed bin (lines break over empty bins); a "
        "this-week line below the baseline band at the same speeds means shorter steps than "
        "usual. " + "; ".join(parts) + "."
    )
    return Chart(key, title, caption, _to_inline_svg(fig, key, title, caption), True)


def cadence_chart(
    this_week: Sequence[tuple[float, float]], baseline: Sequence[tuple[float, float]]
) -> Chart:
    """Share of running time per cadence bin (spm), this week as hatched bars and the
    baseline as a step outline. Each input is [(bin_left_spm, seconds)] with 2-spm bins."""
    key, title = "cadence", "Cadence distribution"
    if not this_week:
        return _empty(key, title, "No cadence recorded this week.")
    width = 2.0
    with plt.rc_context(_RC):
        fig, (ax,) = _figure()
        total = sum(s for _, s in this_week) or 1.0
        ax.bar([c for c, _ in this_week], [100 * s / total for _, s in this_week], width=width,
               align="edge", color=SKY, edgecolor=BLUE, hatch="//", linewidth=0.6,
               label="This week")
        if baseline:
            # A closed outline over every bin from the first to the last, empty bins at 0.
            btotal = sum(s for _, s in baseline) or 1.0
            share = {c: 100 * s / btotal for c, s in baseline}
            first, last = min(share), max(share)
            edges = [first + i * width for i in range(int(round((last - first) / width)) + 1)]
            ys = [0.0] + [share.get(e, 0.0) for e in edges] + [0.0]
            xs = [first] + edges + [last + width]
            ax.step(xs, ys, where="post", color="#000000", linestyle="--", linewidth=1.4,
                    label="Baseline")
        ax.set_xlabel("Cadence (steps/min)")
        ax.set_ylabel("Share of running time (%)")
        _legend_top(ax, 2)
    median = _weighted_median(this_week, width)
    caption = (
        f"Share of this week's running time at each cadence (hatched bars) against the "
        f"baseline (dashed outline). Weighted median this week: {median:.0f} steps/min."
    )
    return Chart(key, title, caption, _to_inline_svg(fig, key, title, caption), True)


def _sqrt(x: Any) -> Any:
    return np.sqrt(np.clip(x, 0, None))


def _square(x: Any) -> Any:
    return np.square(x)


def _gapped(bins: Sequence[SpeedBin]) -> tuple[list[float], list[float], list[float], list[float]]:
    """x, q1, q3, median with a NaN point where bins are missing, so lines do not bridge
    speeds that were never run."""
    xs: list[float] = []
    q1: list[float] = []
    q3: list[float] = []
    med: list[float] = []
    nan = float("nan")
    for i, b in enumerate(bins):
        if i and b.speed_m_s - bins[i - 1].speed_m_s > 1.5 * SPEED_STEP_M_S:
            xs.append(b.speed_m_s - SPEED_STEP_M_S)
            q1.append(nan)
            q3.append(nan)
            med.append(nan)
        xs.append(b.speed_m_s)
        q1.append(b.q1_m)
        q3.append(b.q3_m)
        med.append(b.median_m)
    return xs, q1, q3, med


def _weighted_median(bins: Sequence[tuple[float, float]], width: float) -> float:
    total = sum(s for _, s in bins)
    acc = 0.0
    for left, s in sorted(bins):
        acc += s
        if acc >= total / 2:
            return left + width / 2
    return bins[-1][0] + width / 2


def gct_balance_chart(runs: Sequence[RunBalance], zones: GctZones) -> Chart:
    """Mean GCT balance (% left) per run over time, with Garmin's zones shaded
    symmetrically around 50 % (hatch density grows with the zone)."""
    key, title = "gct", "Ground contact time balance per run"
    if not runs:
        return _empty(
            key, title,
            "No ground contact time balance recorded (no running dynamics sensor or watch "
            "support), so left/right asymmetry cannot be measured.",
        )
    with plt.rc_context(_RC):
        fig, (ax,) = _figure(legend_rows=(2,), left_in=1.0)
        g, m = zones.good_max, zones.moderate_max
        lo = min([r.left_pct for r in runs] + [100 - m - 1.0])
        hi = max([r.left_pct for r in runs] + [m + 1.0])
        ax.axhspan(100 - g, g, facecolor=_tint(GREEN, 0.18), edgecolor="none",
                   label=f"Good zone (larger side <= {g:g} %)")
        for a, b in ((g, m), (100 - m, 100 - g)):
            _hatched_span(ax, a, b, ORANGE, 0.22, "//", "#c99a3c",
                          f"Moderate ({g + 0.1:g}-{m:g} %)" if a == g else None)
        for a, b in ((m, hi + 0.5), (lo - 0.5, 100 - m)):
            _hatched_span(ax, a, b, VERMILLION, 0.16, "xx", "#c0704c",
                          f"High (> {m:g} %)" if a == m else None)
        ax.axhline(50, color=GREY, linewidth=0.8)
        old = [r for r in runs if not r.this_week]
        new = [r for r in runs if r.this_week]
        if old:
            ax.plot(date2num([r.day for r in old]), [r.left_pct for r in old], linestyle="none",
                    marker="o", markerfacecolor="white", markeredgecolor="#000000",
                    label="Earlier runs")
        if new:
            ax.plot(date2num([r.day for r in new]), [r.left_pct for r in new], linestyle="none",
                    marker="D", color=BLUE, markeredgecolor="#000000", markersize=7,
                    label="This week's runs")
        ax.set_ylim(lo - 0.5, hi + 0.5)
        ax.set_ylabel("GCT balance (% left)\nabove 50: left foot longer")
        ax.set_xlabel("Run date")
        _legend_top(ax, 3)
        ax.xaxis.set_major_formatter(DateFormatter("%d %b"))
    week_vals = [r.left_pct for r in new]
    week_txt = (
        f"this week's runs: {', '.join(f'{v:.1f}' for v in week_vals)} % left"
        if week_vals else "no balance data this week"
    )
    caption = (
        f"Mean GCT balance of {len(runs)} runs, with Garmin's zones: good up to {g:g} % on the "
        f"larger side, moderate {g + 0.1:g}-{m:g} %, high above {m:g} %; {week_txt}."
    )
    return Chart(key, title, caption, _to_inline_svg(fig, key, title, caption), True)


def speed_chart(
    bins: Sequence[tuple[float, float]],
    sprint_threshold_m_s: float | None,
    sprint_s: float | None = None,
) -> Chart:
    """Minutes this week in each 0.25 m/s speed bin [(bin_left_m_s, seconds)]; bins from the
    sprint threshold up hatched, the threshold marked. ``sprint_s`` is the week's time above
    the threshold as the gait analysis counted it (quoted in the caption)."""
    key, title = "speed", "Time at speed"
    if not bins:
        return _empty(key, title, "No running speed recorded this week.")
    width = SPEED_STEP_M_S
    thr = sprint_threshold_m_s
    with plt.rc_context(_RC):
        fig, (ax,) = _figure(legend_rows=(2,), left_in=1.0)
        # A bin counts as fast when its centre is at or above the threshold.
        slow = [(b, s) for b, s in bins if thr is None or b + width / 2 < thr]
        fast = [(b, s) for b, s in bins if thr is not None and b + width / 2 >= thr]
        if slow:
            ax.bar([b for b, _ in slow], [s / 60 for _, s in slow], width=width, align="edge",
                   color=SKY, edgecolor=BLUE, linewidth=0.6, label="Below sprint threshold")
        if fast:
            ax.bar([b for b, _ in fast], [s / 60 for _, s in fast], width=width, align="edge",
                   color=VERMILLION, edgecolor="#000000", hatch="xx", linewidth=0.6,
                   label="At or above sprint threshold")
        for b, s in fast:
            # Sprint minutes are few next to easy running: print them so they are not lost.
            ax.annotate(f"{s / 60:.1f}", xy=(b + width / 2, s / 60), xytext=(0, 2),
                        textcoords="offset points", ha="center", fontsize=8)
        lo = min(b for b, _ in bins)
        hi = max(b for b, _ in bins) + width
        if thr is not None:
            ax.axvline(thr, color="#000000", linestyle="--", linewidth=1.5,
                       label=f"Sprint threshold {thr:.2f} m/s")
            hi = max(hi, thr + 0.5)  # keep the zone above the threshold visible
            if not fast:
                # Two short lines and room for them: one long line was clipped at the axes edge.
                hi = max(hi, thr + 0.8)
                ax.annotate("no running here\nthis week", xy=(thr, 0.5), xycoords=("data", "axes fraction"),
                            xytext=(6, 0), textcoords="offset points", fontsize=8, color=GREY)
        ax.set_xlim(lo - 0.1, hi + 0.1)
        # Square-root scale: a minute of strides must stay visible next to hours of easy
        # running; the axis says so and the fast bars carry their value.
        ax.set_yscale("function", functions=(_sqrt, _square))
        top = max(s for _, s in bins) / 60 * 1.08
        ax.set_ylim(0, top)
        ax.set_yticks([t for t in (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if t <= top])
        ax.set_xlabel("Speed (m/s), 0.25 m/s bins")
        ax.set_ylabel("Running time this week\n(min, square-root scale)")
        _legend_top(ax, 2)
    if thr is None:
        tail = "no sprint threshold is set yet (it needs earlier runs)."
    elif sprint_s:
        tail = f"{sprint_s:.0f} s of running at or above it."
    else:
        tail = "no running at or above it this week."
    caption = (
        "Minutes of running in each speed bin this week, with the athlete's sprint threshold"
        + ("" if thr is None else f" {thr:.2f} m/s (dashed line)") + "; " + tail
    )
    return Chart(key, title, caption, _to_inline_svg(fig, key, title, caption), True)


def sessions_chart(weeks: Sequence[WeekPoint]) -> Chart:
    """Runs, cross-training and strength sessions per week as grouped, hatched bars."""
    key, title = "sessions", "Runs, cross-training and strength sessions"
    if not weeks:
        return _empty(key, title, "No weeks to show.")
    with plt.rc_context(_RC):
        fig, (ax,) = _figure(height=3.1)
        x = list(range(len(weeks)))
        w = 0.27
        series = (
            ("Runs", [p.runs for p in weeks], SKY, "", -w),
            ("Cross-training", [p.cross_training for p in weeks], ORANGE, "..", 0.0),
            ("Strength", [p.strength for p in weeks], GREEN, "\\\\", w),
        )
        for label, vals, colour, hatch, off in series:
            ax.bar([i + off for i in x], vals, width=w, color=colour, hatch=hatch,
                   edgecolor="#000000", linewidth=0.6, label=label)
        ax.set_xticks(x, [_week_label(p.iso_week) + (" *" if p.current else "") for p in weeks])
        ax.set_xlabel("ISO week (* this week)")
        ax.set_ylabel("Sessions (count)")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        _legend_top(ax, 3)
    cur = next((p for p in weeks if p.current), weeks[-1])
    strength_weeks = sum(1 for p in weeks if p.strength > 0)
    caption = (
        f"Sessions per ISO week. This week: {cur.runs} runs, {cur.cross_training} "
        f"cross-training, {cur.strength} strength; strength work in {strength_weeks} of "
        f"{len(weeks)} weeks."
    )
    return Chart(key, title, caption, _to_inline_svg(fig, key, title, caption), True)
