"""Charts for the weekly report: inline SVG written straight from the data (reports/svg.py).

Every chart must read in colour and in grey, so series differ by marker, line style and
hatch as well as colour (Okabe-Ito palette, safe for colour-blind readers). Each chart
carries a ``<title>`` and ``<desc>`` and an ``aria-labelledby`` so screen readers get a
text summary, and ids inside the SVG are prefixed per chart so that several charts can
live in one HTML page without id clashes. No text from the data (athlete or activity
names) is ever drawn in a chart: labels are ours, numbers are formatted by us.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from markupsafe import Markup

from reports.svg import FONT, LEGEND_LINE, WIDTH, LegendItem, Panel, Svg, nice_ticks, tick_label
from transforms.chartbins import CHART_SPEED_BIN_M_S

# Okabe & Ito (2008) colour-blind-safe palette.
BLUE = "#0072B2"
ORANGE = "#E69F00"
GREEN = "#009E73"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
GREY = "#555555"
SKY = "#56B4E9"

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


# Layout in viewBox units (the page scales the chart): fixed margins, legend rows above.
_LEFT = 85.0
_RIGHT = 25.0
_BOTTOM = 62.0
_TOP_PAD = 12.0


def _tint(colour: str, strength: float) -> str:
    """An opaque pale version of ``colour`` (mixed with white): bands stay opaque so their
    hatch, which tells zones apart in grey, is not faded with them."""
    r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    mix = [1 - strength * (1 - c) for c in (r, g, b)]
    return "#" + "".join(f"{round(255 * c):02x}" for c in mix)


def _empty(key: str, title: str, why: str) -> Chart:
    return Chart(key=key, title=title, caption=why, svg=Markup(""), has_data=False)


def _fmt(x: float | None, spec: str = ".1f") -> str:
    return "n/a" if x is None else format(x, spec)


def _week_label(iso_week: str) -> str:
    # "2026-W47" -> "W47": the year is in the page heading and the caption.
    return iso_week.split("-", 1)[-1]


def _finite(values: Sequence[float | None]) -> list[float]:
    return [v for v in values if v is not None and v == v]


def _yticks(lo: float, hi: float) -> list[tuple[float, str]]:
    ticks = nice_ticks(lo, hi)
    return [(t, tick_label(t, ticks)) for t in ticks]


def _panel(svg_height: float, top: float, bottom: float, x0: float, x1: float, y0: float,
           y1: float, *, left: float = _LEFT, right: float = _RIGHT) -> Panel:
    return Panel(x0, x1, y0, y1, left, top, WIDTH - right, svg_height - bottom)


def _done(svg: Svg, key: str, title: str, caption: str) -> Chart:
    return Chart(key, title, caption, Markup(svg.markup(title, caption)), True)  # escaped parts


def load_chart(weeks: Sequence[WeekPoint], acwr_band: tuple[float, float, float]) -> Chart:
    """Weekly running distance (bars) and load (line), and the ACWR below, last weeks.

    ``acwr_band`` is (low, high, spike): the shaded 'usual' band and the spike line.
    """
    key, title = "load", "Weekly distance, training load and ACWR"
    if not weeks or all(w.distance_km is None and w.load is None for w in weeks):
        return _empty(key, title, "No runs or training load in the last weeks.")
    h = 480.0
    svg = Svg(key, h)
    n = len(weeks)
    x0, x1 = -0.6, n - 0.4
    top1 = _TOP_PAD + LEGEND_LINE
    plot_h = h - top1 - _BOTTOM - (18 + LEGEND_LINE)
    mid = top1 + plot_h * 3 / 5
    top2 = mid + 18 + LEGEND_LINE
    dist = [w.distance_km or 0.0 for w in weeks]
    loads = [w.load for w in weeks]
    d_ticks = nice_ticks(0, max(dist + [1.0]) * 1.1)
    l_ticks = nice_ticks(0, max(_finite(loads) + [1.0]) * 1.12)  # headroom above the line
    p = Panel(x0, x1, 0, d_ticks[-1], _LEFT, top1, WIDTH - 85, mid)
    p2 = Panel(x0, x1, 0, l_ticks[-1], _LEFT, top1, WIDTH - 85, mid)
    svg.axes(p, [], [(t, tick_label(t, d_ticks)) for t in d_ticks], None, "Running distance (km)")
    svg.axes(p2, [], [(t, tick_label(t, l_ticks)) for t in l_ticks], None,
             "Weekly load (TRIMP units)", right=True)
    bar_w = (p.px(0.8) - p.px(0))
    for i, (w, d) in enumerate(zip(weeks, dist, strict=True)):
        x = p.px(i) - bar_w / 2
        if w.current:
            svg.rect(x, p.py(d), bar_w, p.py(0) - p.py(d), svg.fill(SKY, "/"), "#000000", 1.4)
        else:
            svg.rect(x, p.py(d), bar_w, p.py(0) - p.py(d), SKY, BLUE, 0.8)
    svg.line(p2, list(range(n)), loads, VERMILLION, width=1.6, dash="6 3", marker="s")
    svg.legend(
        [LegendItem("Distance (km); hatched: this week", "bar", SKY, BLUE),
         LegendItem("Load (TRIMP units)", "line", VERMILLION, dash="6 3", marker="s")],
        _LEFT, _TOP_PAD, 2,
    )
    low, high, spike = acwr_band
    acwr = [w.acwr for w in weeks]
    a_ticks = nice_ticks(0, max(_finite(acwr) + [spike]) * 1.15)
    q = Panel(x0, x1, 0, a_ticks[-1], _LEFT, top2, WIDTH - 85, h - _BOTTOM)
    svg.hspan(q, low, high, _tint(GREEN, 0.15))
    svg.axes(q, [(i, _week_label(w.iso_week) + (" *" if w.current else ""))
                 for i, w in enumerate(weeks)],
             [(t, tick_label(t, a_ticks)) for t in a_ticks], "ISO week (* this week)",
             "ACWR (ratio)")
    svg.hline(q, spike, VERMILLION, 1.4, "2 3")
    svg.line(q, list(range(n)), acwr, "#000000", width=1.4, marker="o")
    svg.legend(
        [LegendItem(f"{low:g}-{high:g} usual range", "band", _tint(GREEN, 0.15), "none"),
         LegendItem(f"{spike:g} spike line", "line", VERMILLION, dash="2 3"),
         LegendItem("ACWR (7 d / 28 d EWMA)", "line", "#000000", marker="o")],
        _LEFT, mid + 18, 3,
    )
    cur = next((w for w in weeks if w.current), weeks[-1])
    caption = (
        f"Bars: running distance per week over {len(weeks)} weeks; dashed line with squares: "
        f"weekly load; lower panel: acute:chronic workload ratio. This week ({cur.iso_week}): "
        f"{_fmt(cur.distance_km)} km, load {_fmt(cur.load, '.0f')}, ACWR {_fmt(cur.acwr, '.2f')}."
    )
    return _done(svg, key, title, caption)


def _gapped(bins: Sequence[SpeedBin]) -> tuple[list[float], list[float], list[float], list[float]]:
    """x, q1, q3, median with a NaN point where bins are missing, so lines do not bridge
    speeds that were never run."""
    xs: list[float] = []
    q1: list[float] = []
    q3: list[float] = []
    med: list[float] = []
    nan = float("nan")
    for i, b in enumerate(bins):
        if i and b.speed_m_s - bins[i - 1].speed_m_s > 1.5 * CHART_SPEED_BIN_M_S:
            xs.append(b.speed_m_s - CHART_SPEED_BIN_M_S)
            q1.append(nan)
            q3.append(nan)
            med.append(nan)
        xs.append(b.speed_m_s)
        q1.append(b.q1_m)
        q3.append(b.q3_m)
        med.append(b.median_m)
    return xs, q1, q3, med


def _xrange(values: Sequence[float], pad: float) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    if hi - lo < 1e-9:
        return lo - 0.5, hi + 0.5
    return lo - pad, hi + pad


def step_length_chart(
    this_week: Sequence[SpeedBin], baseline: Sequence[SpeedBin], ref_speed_m_s: float | None
) -> Chart:
    """Median step length per speed bin, this week (solid, circles) against the baseline
    (dashed, squares, with its interquartile band)."""
    key, title = "steplength", "Step length against speed: this week and baseline"
    if not this_week and not baseline:
        return _empty(key, title, "No running samples with speed and step length or cadence.")
    h = 340.0
    svg = Svg(key, h)
    xs_all = [b.speed_m_s for b in [*this_week, *baseline]] + ([ref_speed_m_s] if ref_speed_m_s else [])
    ys_all = [v for b in [*this_week, *baseline] for v in (b.q1_m, b.q3_m, b.median_m)]
    x0, x1 = _xrange(xs_all, 0.15)
    ylo, yhi = _xrange(ys_all, 0.03)
    yt = _yticks(ylo, yhi)
    xt = _yticks(x0, x1)
    top = _TOP_PAD + 2 * LEGEND_LINE
    p = _panel(h, top, _BOTTOM, x0, x1, ylo, yhi)
    svg.axes(p, [(v, s) for v, s in xt if x0 <= v <= x1], [(v, s) for v, s in yt if ylo <= v <= yhi],
             "Speed (m/s)", "Step length (m)")
    items = []
    if baseline:
        bx, q1, q3, med = _gapped(baseline)
        band = svg.fill(_tint(GREY, 0.18), ".", GREY)
        svg.band(p, bx, q1, q3, band)
        svg.line(p, bx, med, GREY, width=1.5, dash="6 3", marker="s")
        items += [LegendItem("Baseline middle 50 %", "band", _tint(GREY, 0.18), GREY, hatch="."),
                  LegendItem("Baseline median", "line", GREY, dash="6 3", marker="s")]
    if this_week:
        wx, _, _, wmed = _gapped(this_week)
        svg.line(p, wx, wmed, BLUE, width=2, marker="o")
        items.append(LegendItem("This week median", "line", BLUE, marker="o"))
    if ref_speed_m_s:
        svg.vline(p, ref_speed_m_s, ORANGE, 1.4, "2 3")
        items.append(LegendItem(f"Reference speed {ref_speed_m_s:.2f} m/s", "line", ORANGE,
                                dash="2 3"))
    svg.legend(items, _LEFT, _TOP_PAD, 2)
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
    return _done(svg, key, title, caption)


def cadence_chart(
    this_week: Sequence[tuple[float, float]], baseline: Sequence[tuple[float, float]]
) -> Chart:
    """Share of running time per cadence bin (spm), this week as hatched bars and the
    baseline as a step outline. Each input is [(bin_left_spm, seconds)] with 2-spm bins."""
    key, title = "cadence", "Cadence distribution"
    if not this_week:
        return _empty(key, title, "No cadence recorded this week.")
    width = 2.0
    h = 340.0
    svg = Svg(key, h)
    total = sum(s for _, s in this_week) or 1.0
    bars = [(c, 100 * s / total) for c, s in this_week]
    outline: list[tuple[float, float]] = []
    if baseline:
        # A closed outline over every bin from the first to the last, empty bins at 0.
        btotal = sum(s for _, s in baseline) or 1.0
        share = {c: 100 * s / btotal for c, s in baseline}
        first, last = min(share), max(share)
        edges = [first + i * width for i in range(int(round((last - first) / width)) + 1)]
        outline = [(first, 0.0)] + [(e, share.get(e, 0.0)) for e in edges] + [(last + width, 0.0)]
    xs = [c for c, _ in bars] + [c + width for c, _ in bars] + [x for x, _ in outline]
    x0, x1 = _xrange(xs, 2.0)
    yt = nice_ticks(0, max([v for _, v in bars] + [v for _, v in outline] + [1.0]) * 1.08)
    top = _TOP_PAD + LEGEND_LINE
    p = _panel(h, top, _BOTTOM, x0, x1, 0, yt[-1])
    svg.axes(p, [(v, s) for v, s in _yticks(x0, x1) if x0 <= v <= x1],
             [(t, tick_label(t, yt)) for t in yt], "Cadence (steps/min)",
             "Share of running time (%)")
    fill = svg.fill(SKY, "/", BLUE)
    for c, v in bars:
        svg.rect(p.px(c), p.py(v), p.px(c + width) - p.px(c), p.py(0) - p.py(v), fill, BLUE, 0.6)
    items = [LegendItem("This week", "bar", SKY, BLUE, hatch="/")]
    if outline:
        # "post" steps: each value holds until the next edge
        (fx, fy), rest = outline[0], outline[1:]
        d = [f"M{p.px(fx):.1f},{p.py(fy):.1f}"]
        for x, y in rest:
            d.append(f"H{p.px(x):.1f} V{p.py(y):.1f}")
        svg.path(" ".join(d), "#000000", 1.4, "6 3")
        items.append(LegendItem("Baseline", "line", "#000000", dash="6 3"))
    svg.legend(items, _LEFT, _TOP_PAD, 2)
    median = _weighted_median(this_week, width)
    caption = (
        f"Share of this week's running time at each cadence (hatched bars) against the "
        f"baseline (dashed outline). Weighted median this week: {median:.0f} steps/min."
    )
    return _done(svg, key, title, caption)


def _weighted_median(bins: Sequence[tuple[float, float]], width: float) -> float:
    total = sum(s for _, s in bins)
    acc = 0.0
    for left, s in sorted(bins):
        acc += s
        if acc >= total / 2:
            return left + width / 2
    return bins[-1][0] + width / 2


def _date_ticks(lo: date, hi: date) -> list[tuple[float, str]]:
    """About six date ticks, on whole days, labelled like '03 Nov'."""
    span = max((hi - lo).days, 1)
    step = next(s for s in (1, 2, 3, 7, 14, 28, 56, 91, 182, 364, 10_000) if span / s <= 7)
    out = []
    d = lo
    while d <= hi:
        out.append((float(d.toordinal()), d.strftime("%d %b")))
        d += timedelta(days=step)
    return out


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
    h = 360.0
    svg = Svg(key, h)
    g, m = zones.good_max, zones.moderate_max
    lo = min([r.left_pct for r in runs] + [100 - m - 1.0]) - 0.5
    hi = max([r.left_pct for r in runs] + [m + 1.0]) + 0.5
    first = min(r.day for r in runs)
    last = max(r.day for r in runs)
    x0, x1 = first.toordinal() - 2.0, last.toordinal() + 2.0
    top = _TOP_PAD + 3 * LEGEND_LINE
    p = _panel(h, top, _BOTTOM, x0, x1, lo, hi, left=100.0)
    good = _tint(GREEN, 0.18)
    moderate = svg.fill(_tint(ORANGE, 0.22), "/", "#c99a3c")
    high = svg.fill(_tint(VERMILLION, 0.16), "x", "#c0704c")
    svg.hspan(p, 100 - g, g, good)
    for a, b in ((g, m), (100 - m, 100 - g)):
        svg.hspan(p, a, b, moderate)
    for a, b in ((m, hi), (lo, 100 - m)):
        svg.hspan(p, a, b, high)
    svg.axes(p, _date_ticks(first, last), [(v, s) for v, s in _yticks(lo, hi) if lo <= v <= hi], "Run date",
             "GCT balance (% left)\nabove 50: left foot longer", grid=False)
    svg.hline(p, 50, GREY, 0.8)
    old = [r for r in runs if not r.this_week]
    new = [r for r in runs if r.this_week]
    for r in old:
        svg.marker(p.px(r.day.toordinal()), p.py(r.left_pct), "o", "#ffffff")
    for r in new:
        svg.marker(p.px(r.day.toordinal()), p.py(r.left_pct), "D", BLUE, size=5.0)
    items = [
        LegendItem(f"Good zone (larger side <= {g:g} %)", "band", good, "none"),
        LegendItem(f"Moderate ({g + 0.1:g}-{m:g} %)", "band", _tint(ORANGE, 0.22), "#c99a3c",
                   hatch="/"),
        LegendItem(f"High (> {m:g} %)", "band", _tint(VERMILLION, 0.16), "#c0704c", hatch="x"),
    ]
    if old:
        items.append(LegendItem("Earlier runs", "line", "#000000", dash="0 100", marker="o"))
    if new:
        items.append(LegendItem("This week's runs", "line", BLUE, dash="0 100", marker="D"))
    svg.legend(items, 100.0, _TOP_PAD, 2)
    week_vals = [r.left_pct for r in new]
    week_txt = (
        f"this week's runs: {', '.join(f'{v:.1f}' for v in week_vals)} % left"
        if week_vals else "no balance data this week"
    )
    caption = (
        f"Mean GCT balance of {len(runs)} runs, with Garmin's zones: good up to {g:g} % on the "
        f"larger side, moderate {g + 0.1:g}-{m:g} %, high above {m:g} %; {week_txt}."
    )
    return _done(svg, key, title, caption)


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
    width = CHART_SPEED_BIN_M_S
    thr = sprint_threshold_m_s
    h = 340.0
    svg = Svg(key, h)
    # A bin counts as fast when its centre is at or above the threshold.
    slow = [(b, s) for b, s in bins if thr is None or b + width / 2 < thr]
    fast = [(b, s) for b, s in bins if thr is not None and b + width / 2 >= thr]
    lo = min(b for b, _ in bins)
    hi = max(b for b, _ in bins) + width
    if thr is not None:
        hi = max(hi, thr + (0.5 if fast else 0.8))  # keep the zone above the threshold visible
    top_min = max(s for _, s in bins) / 60 * 1.08
    p = _panel(h, _TOP_PAD + 2 * LEGEND_LINE, _BOTTOM, lo - 0.1, hi + 0.1, 0, top_min,
               left=100.0)
    # Square-root scale: a minute of strides must stay visible next to hours of easy
    # running; the axis says so and the fast bars carry their value.
    p.yscale = lambda v: math.sqrt(max(v, 0.0))
    yt = [t for t in (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if t <= top_min]
    svg.axes(p, [(v, s) for v, s in _yticks(lo - 0.1, hi + 0.1) if lo - 0.1 <= v <= hi + 0.1],
             [(float(t), str(t)) for t in yt], "Speed (m/s), 0.25 m/s bins",
             "Running time this week\n(min, square-root scale)")
    items = []
    if slow:
        for b, s in slow:
            svg.rect(p.px(b), p.py(s / 60), p.px(b + width) - p.px(b), p.py(0) - p.py(s / 60),
                     SKY, BLUE, 0.6)
        items.append(LegendItem("Below sprint threshold", "bar", SKY, BLUE))
    if fast:
        fill = svg.fill(VERMILLION, "x")
        for b, s in fast:
            svg.rect(p.px(b), p.py(s / 60), p.px(b + width) - p.px(b), p.py(0) - p.py(s / 60),
                     fill, "#000000", 0.6)
            # Sprint minutes are few next to easy running: print them so they are not lost.
            svg.text(p.px(b + width / 2), p.py(s / 60) - 3, f"{s / 60:.1f}", size=10,
                     anchor="middle")
        items.append(LegendItem("At or above sprint threshold", "bar", VERMILLION, hatch="x"))
    if thr is not None:
        svg.vline(p, thr, "#000000", 1.5, "6 3")
        items.append(LegendItem(f"Sprint threshold {thr:.2f} m/s", "line", "#000000", dash="6 3"))
        if not fast:
            y = (p.top + p.bottom) / 2
            svg.text(p.px(thr) + 6, y, "no running here", size=10, colour=GREY)
            svg.text(p.px(thr) + 6, y + FONT, "this week", size=10, colour=GREY)
    svg.legend(items, 100.0, _TOP_PAD, 2)
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
    return _done(svg, key, title, caption)


def sessions_chart(weeks: Sequence[WeekPoint]) -> Chart:
    """Runs, cross-training and strength sessions per week as grouped, hatched bars."""
    key, title = "sessions", "Runs, cross-training and strength sessions"
    if not weeks:
        return _empty(key, title, "No weeks to show.")
    h = 310.0
    svg = Svg(key, h)
    n = len(weeks)
    top_count = max([max(p.runs, p.cross_training, p.strength) for p in weeks] + [1])
    yt = [float(t) for t in nice_ticks(0, top_count * 1.05) if float(t).is_integer()]
    p = _panel(h, _TOP_PAD + LEGEND_LINE, _BOTTOM, -0.6, n - 0.4, 0, max(yt[-1], 1.0))
    svg.axes(p, [(i, _week_label(w.iso_week) + (" *" if w.current else ""))
                 for i, w in enumerate(weeks)],
             [(t, f"{t:.0f}") for t in yt], "ISO week (* this week)", "Sessions (count)")
    w = 0.27
    series = (
        ("Runs", [q.runs for q in weeks], SKY, None, -w),
        ("Cross-training", [q.cross_training for q in weeks], ORANGE, ".", 0.0),
        ("Strength", [q.strength for q in weeks], GREEN, "\\", w),
    )
    for _label, vals, colour, hatch, off in series:
        fill = svg.fill(colour, hatch)
        for i, v in enumerate(vals):
            x = p.px(i + off - w / 2)
            svg.rect(x, p.py(v), p.px(i + off + w / 2) - x, p.py(0) - p.py(v), fill, "#000000", 0.6)
    svg.legend([LegendItem(lab, "bar", c, "#000000", hatch=hh) for lab, _, c, hh, _ in series],
               _LEFT, _TOP_PAD, 3)
    cur = next((q for q in weeks if q.current), weeks[-1])
    strength_weeks = sum(1 for q in weeks if q.strength > 0)
    caption = (
        f"Sessions per ISO week. This week: {cur.runs} runs, {cur.cross_training} "
        f"cross-training, {cur.strength} strength; strength work in {strength_weeks} of "
        f"{len(weeks)} weeks."
    )
    return _done(svg, key, title, caption)
