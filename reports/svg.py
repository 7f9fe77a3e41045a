"""A small SVG plot builder for the report charts: axes, ticks, grid, bars, lines with
markers and dash patterns, bands, hatch patterns and a legend above the plot.

Why not matplotlib: it cost about 0.4 s per athlete-week (six figures, layout, font
lookup) and logged one "findfont" warning per text element on machines without the
requested font. This writes the same marks straight from the data in a few milliseconds,
with text as ``<text>`` in the page's own sans-serif font, so no font file is looked up.

All text is escaped here; ids are prefixed with the chart key so several charts can share
one HTML page.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape

WIDTH = 720.0  # viewBox units; CSS scales the chart to its container
FONT = 12.0
LEGEND_LINE = 20.0

HATCHES: dict[str, str] = {
    # pattern id suffix -> path inside a 8x8 tile
    "/": "M-2,2 L2,-2 M0,8 L8,0 M6,10 L10,6",
    "\\": "M-2,6 L2,10 M0,0 L8,8 M6,-2 L10,2",
    "x": "M0,8 L8,0 M0,0 L8,8 M-2,2 L2,-2 M6,10 L10,6 M-2,6 L2,10 M6,-2 L10,2",
    ".": "",  # dots: drawn as small circles
}


def _f(v: float) -> str:
    """A coordinate with at most one decimal: small files, stable output."""
    s = f"{v:.1f}"
    return s[:-2] if s.endswith(".0") else s


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 x 10^k apart) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(target, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    t = first
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 10))
        t += step
    if ticks[-1] < hi - step * 1e-9:  # the top tick covers the data: nothing drawn above the axis
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def tick_label(v: float, ticks: Sequence[float]) -> str:
    """Tick text with as many decimals as the tick spacing needs."""
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    decimals = 0 if step >= 1 or step == 0 else min(3, max(0, -math.floor(math.log10(step) + 1e-9)))
    if decimals and abs(round(step, decimals) - step) > 1e-9:
        decimals += 1
    return f"{v:.{decimals}f}"


@dataclass
class LegendItem:
    label: str
    kind: str  # "bar", "line", "band"
    colour: str
    stroke: str = "#000000"
    hatch: str | None = None
    dash: str | None = None
    marker: str | None = None


@dataclass
class Panel:
    """One plot area: data ranges and the pixel box they map to."""

    x0: float
    x1: float
    y0: float
    y1: float
    left: float
    top: float
    right: float
    bottom: float
    yscale: Callable[[float], float] = field(default=lambda v: v)

    def px(self, x: float) -> float:
        span = (self.x1 - self.x0) or 1.0
        return self.left + (x - self.x0) / span * (self.right - self.left)

    def py(self, y: float) -> float:
        a, b = self.yscale(self.y0), self.yscale(self.y1)
        span = (b - a) or 1.0
        return self.bottom - (self.yscale(y) - a) / span * (self.bottom - self.top)


class Svg:
    """Collects elements of one chart; :meth:`markup` returns the ``<svg>`` text."""

    def __init__(self, key: str, height: float) -> None:
        self.prefix = f"gw-{key}"
        self.height = height
        self.defs: dict[str, str] = {}
        self.body: list[str] = []

    # --- primitives ------------------------------------------------------------------

    def pattern(self, hatch: str, colour: str, background: str) -> str:
        """Id of a hatch pattern (``/``, ``\\``, ``x`` or ``.``) over ``background``."""
        pid = f"{self.prefix}-h{len(self.defs)}"
        key = f"{hatch}|{colour}|{background}"
        for existing_id, existing in self.defs.items():
            if existing.startswith(f"<!--{key}-->"):
                return existing_id
        if hatch == ".":
            marks = (f'<circle cx="2" cy="2" r="0.9" fill="{colour}"/>'
                     f'<circle cx="6" cy="6" r="0.9" fill="{colour}"/>')
        else:
            marks = f'<path d="{HATCHES[hatch]}" stroke="{colour}" stroke-width="0.9"/>'
        self.defs[pid] = (
            f'<!--{key}--><pattern id="{pid}" patternUnits="userSpaceOnUse" width="8" height="8">'
            f'<rect width="8" height="8" fill="{background}"/>{marks}</pattern>'
        )
        return pid

    def fill(self, colour: str, hatch: str | None, hatch_colour: str = "#000000") -> str:
        if not hatch:
            return colour
        return f"url(#{self.pattern(hatch, hatch_colour, colour)})"

    def rect(self, x: float, y: float, w: float, h: float, fill: str, stroke: str = "none",
             width: float = 0.8) -> None:
        if h < 0:
            y, h = y + h, -h
        self.body.append(
            f'<rect x="{_f(x)}" y="{_f(y)}" width="{_f(max(w, 0.0))}" height="{_f(h)}" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="{width}"/>'
        )

    def path(self, d: str, stroke: str, width: float = 1.0, dash: str | None = None,
             fill: str = "none") -> None:
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        self.body.append(
            f'<path d="{d}" fill="{fill}" stroke="{stroke}" stroke-width="{width}"{extra}/>'
        )

    def text(self, x: float, y: float, s: str, *, size: float = FONT, anchor: str = "start",
             rotate: bool = False, colour: str = "#222222") -> None:
        tr = f' transform="rotate(-90 {_f(x)} {_f(y)})"' if rotate else ""
        self.body.append(
            f'<text x="{_f(x)}" y="{_f(y)}" font-size="{size:g}" text-anchor="{anchor}" '
            f'fill="{colour}"{tr}>{escape(s)}</text>'
        )

    def marker(self, x: float, y: float, kind: str, colour: str, edge: str = "#000000",
               size: float = 4.0) -> None:
        if kind == "o":
            d = (f"M{_f(x - size)},{_f(y)} a{size:g},{size:g} 0 1,0 {_f(2 * size)},0 "
                 f"a{size:g},{size:g} 0 1,0 {_f(-2 * size)},0 Z")
        elif kind == "s":
            s = size * 0.9
            d = f"M{_f(x - s)},{_f(y - s)} h{_f(2 * s)} v{_f(2 * s)} h{_f(-2 * s)} Z"
        else:  # "D": diamond
            s = size * 1.2
            d = f"M{_f(x)},{_f(y - s)} L{_f(x + s)},{_f(y)} L{_f(x)},{_f(y + s)} L{_f(x - s)},{_f(y)} Z"
        self.body.append(f'<path d="{d}" fill="{colour}" stroke="{edge}" stroke-width="1"/>')

    # --- composite marks ---------------------------------------------------------------

    def axes(self, p: Panel, xticks: Sequence[tuple[float, str]],
             yticks: Sequence[tuple[float, str]], xlabel: str | None, ylabel: str,
             *, right: bool = False, grid: bool = True) -> None:
        """Grid, left (or right) y axis with ticks and label, bottom x axis when labelled."""
        last_y: float | None = None
        for v, lab in yticks:
            y = p.py(v)
            if last_y is not None and abs(last_y - y) < FONT:
                continue  # labels would overlap (square-root scale near 0)
            last_y = y
            if grid and not right:
                self.path(f"M{_f(p.left)},{_f(y)} H{_f(p.right)}", "#dddddd", 0.6)
            x = p.right if right else p.left
            self.path(f"M{_f(x)},{_f(y)} h{4 if right else -4}", "#444444", 0.8)
            self.text(x + (7 if right else -7), y + 4, lab, anchor="start" if right else "end")
        x_axis = p.right if right else p.left
        self.path(f"M{_f(x_axis)},{_f(p.top)} V{_f(p.bottom)}", "#444444", 0.8)
        lines = ylabel.split("\n")
        mid = (p.top + p.bottom) / 2
        for i, line in enumerate(lines):
            if right:
                self.text(min(p.right + 55 + i * (FONT + 2), WIDTH - 6), mid, line,
                          anchor="middle", rotate=True)
            else:
                off = (len(lines) - 1 - i) * (FONT + 2)
                self.text(max(p.left - 52 - off, FONT), mid, line, anchor="middle", rotate=True)
        if right:
            return
        self.path(f"M{_f(p.left)},{_f(p.bottom)} H{_f(p.right)}", "#444444", 0.8)
        for v, lab in xticks:
            x = p.px(v)
            self.path(f"M{_f(x)},{_f(p.bottom)} v4", "#444444", 0.8)
            if xlabel is not None:
                self.text(x, p.bottom + 17, lab, anchor="middle")
        if xlabel:
            self.text((p.left + p.right) / 2, p.bottom + 36, xlabel, anchor="middle")

    def line(self, p: Panel, xs: Sequence[float], ys: Sequence[float | None], colour: str,
             *, width: float = 1.5, dash: str | None = None, marker: str | None = None,
             marker_fill: str | None = None) -> None:
        """A polyline broken at missing values, with a marker on every point."""
        d: list[str] = []
        pen = False
        pts: list[tuple[float, float]] = []
        for x, y in zip(xs, ys, strict=True):
            if y is None or y != y:
                pen = False
                continue
            px, py = p.px(x), p.py(y)
            d.append(f"{'L' if pen else 'M'}{_f(px)},{_f(py)}")
            pen = True
            pts.append((px, py))
        if d:
            self.path(" ".join(d), colour, width, dash)
        if marker:
            for px, py in pts:
                self.marker(px, py, marker, marker_fill or colour)

    def band(self, p: Panel, xs: Sequence[float], lo: Sequence[float | None],
             hi: Sequence[float | None], fill: str) -> None:
        """A filled area between two series, in runs without missing values."""
        run: list[tuple[float, float, float]] = []

        def flush() -> None:
            if len(run) > 1:
                top = " ".join(f"L{_f(p.px(x))},{_f(p.py(h))}" for x, _, h in run)
                bottom = " ".join(f"L{_f(p.px(x))},{_f(p.py(lv))}" for x, lv, _ in reversed(run))
                self.path("M" + top[1:] + " " + bottom + " Z", "none", 0, fill=fill)
            run.clear()

        for x, lv, hv in zip(xs, lo, hi, strict=True):
            if lv is None or hv is None or lv != lv or hv != hv:
                flush()
            else:
                run.append((x, lv, hv))
        flush()

    def hspan(self, p: Panel, y0: float, y1: float, fill: str) -> None:
        a, b = p.py(max(min(y0, y1), p.y0)), p.py(min(max(y0, y1), p.y1))
        self.rect(p.left, b, p.right - p.left, a - b, fill)

    def hline(self, p: Panel, y: float, colour: str, width: float = 1.0,
              dash: str | None = None) -> None:
        self.path(f"M{_f(p.left)},{_f(p.py(y))} H{_f(p.right)}", colour, width, dash)

    def vline(self, p: Panel, x: float, colour: str, width: float = 1.0,
              dash: str | None = None) -> None:
        self.path(f"M{_f(p.px(x))},{_f(p.top)} V{_f(p.bottom)}", colour, width, dash)

    def legend(self, items: Sequence[LegendItem], left: float, top: float, ncol: int) -> None:
        """Legend rows above a panel (never on top of the data)."""
        col_w = (WIDTH - left - 20) / max(ncol, 1)
        for i, it in enumerate(items):
            row, col = divmod(i, ncol)
            x = left + col * col_w
            y = top + row * LEGEND_LINE + 10
            if it.kind in ("bar", "band"):
                self.rect(x, y - 6, 24, 12, self.fill(it.colour, it.hatch, it.stroke),
                          it.stroke if it.kind == "bar" else "none")
            else:
                self.path(f"M{_f(x)},{_f(y)} h24", it.colour, 1.6, it.dash)
                if it.marker:
                    self.marker(x + 12, y, it.marker, it.colour)
            self.text(x + 30, y + 4, it.label, size=11)

    def markup(self, title: str, caption: str) -> str:
        head = (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_f(WIDTH)} {_f(self.height)}" '
            f'role="img" aria-labelledby="{self.prefix}-title {self.prefix}-desc" '
            f'class="chart-svg" preserveAspectRatio="xMidYMid meet" '
            f'font-family="DejaVu Sans, Verdana, sans-serif">'
        )
        defs = "".join(v.split("-->", 1)[1] for v in self.defs.values())
        return (
            head
            + f'\n <title id="{self.prefix}-title">{escape(title)}</title>'
            + f'\n <desc id="{self.prefix}-desc">{escape(caption)}</desc>\n'
            + (f"<defs>{defs}</defs>\n" if defs else "")
            + f'<rect width="{_f(WIDTH)}" height="{_f(self.height)}" fill="#ffffff"/>\n'
            + "\n".join(self.body)
            + "\n</svg>"
        )
