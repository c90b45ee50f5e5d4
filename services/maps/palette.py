"""The map's colours and symbols, chosen for WCAG 2.1 AA, and the contrast arithmetic that
checks them (`tests/a11y/test_contrast.py`).

- Categories: a dark, colour-blind-safe set (after Paul Tol's "muted" and Okabe–Ito,
  darkened): every colour carries white text at ≥ 4.5:1 (the marker's letters and the
  cluster's number) and stands ≥ 3:1 against the map's background; each category also has
  a two-letter symbol drawn inside its marker, cluster and layer entry, so no one needs to
  tell the colours apart.
- Areas: a light-to-mid sequential scale (ColorBrewer YlOrRd, safe for colour-blind
  readers) under a dark outline that stands ≥ 3:1 against every class, so neighbouring
  areas are always told apart; the number behind a class is printed in the area's label
  (text on a light label background, ≥ 4.5:1), so the shade is never the only carrier.

WCAG's definitions: relative luminance of sRGB, contrast (L1 + 0.05) / (L2 + 0.05);
a translucent fill is first blended over what lies beneath it, in sRGB as browsers do.
"""

from __future__ import annotations

MAP_BACKGROUND = "#eef0ec"  # .leaflet-container in map_style.css (no tiles)
AREA_OUTLINE = "#222222"
AREA_OPACITY_NO_TILES = 0.75
AREA_OPACITY_TILES = 0.55
CHANGE_OPACITY = 0.8
LABEL_BACKGROUND = "#ffffff"
LABEL_BACKGROUND_OPACITY = 0.88
LABEL_TEXT = "#1a1a1a"
MARKER_RING = "#ffffff"  # between the coloured disc …
MARKER_OUTLINE = "#222222"  # … and a dark line around it (map_style.css)
MARKER_TEXT = "#ffffff"

ZERO_COLOUR = "#f2f2f2"
HIDDEN_COLOUR = "#c8c8c8"  # public map: a total withheld so a small count stays hidden
SCALE_COLOURS = ("#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#d0102c")
# ColorBrewer RdBu: blue = fewer reports, red = more; the middle is "about the same".
CHANGE_COLOURS = ("#2166ac", "#67a9cf", "#d1e5f0", "#f7f7f7", "#fddbc7", "#ef8a62", "#b2182b")

# code -> (colour, symbol). Symbols are unique; the colours repeat no hue family twice
# among neighbours in the catalogue order.
CATEGORY_STYLE: dict[str, tuple[str, str]] = {
    "klotter": ("#6a3d9a", "Kl"),
    "skadegorelse": ("#b2182b", "Sk"),
    "nedskrapning": ("#7a5c00", "Ns"),
    "brand": ("#a84d00", "Br"),
    "ordningsstorning": ("#0067a5", "Os"),
    "storande_samling": ("#8c510a", "Ss"),
    "narkotika": ("#1b7837", "Na"),
    "vald": ("#67001f", "Vå"),
    "hot": ("#b5186f", "Ho"),
    "inbrott": ("#332288", "In"),
    "stold": ("#00695c", "St"),
    "buskorning": ("#5e4fa2", "Bu"),
    "otrygg_plats": ("#4d4d4d", "Ot"),
    "hot_vald_personal": ("#882255", "HP"),
    "ovrigt": ("#595959", "Öv"),
}
FALLBACK_COLOURS = ("#00695c", "#882255", "#0067a5", "#7a5c00", "#5e4fa2", "#a84d00")


def category_colour(code: str) -> str:
    if code in CATEGORY_STYLE:
        return CATEGORY_STYLE[code][0]
    return FALLBACK_COLOURS[sum(code.encode()) % len(FALLBACK_COLOURS)]


def category_symbol(code: str, label: str) -> str:
    """The two letters drawn in the marker: the catalogue's, else the label's first two."""
    if code in CATEGORY_STYLE:
        return CATEGORY_STYLE[code][1]
    letters = [ch for ch in label if ch.isalnum()] or list(code)
    return ("".join(letters[:2]) or "?").capitalize()


# --- WCAG arithmetic --------------------------------------------------------------------


def _rgb(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    if len(value) == 3:
        value = "".join(ch * 2 for ch in value)
    if len(value) != 6:
        raise ValueError(f"not a #rrggbb colour: {colour!r}")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{round(min(255.0, max(0.0, c))):02x}" for c in rgb)


def relative_luminance(colour: str) -> float:
    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in _rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: str, b: str) -> float:
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def blend(colour: str, opacity: float, under: str) -> str:
    """`colour` at `opacity` over `under`, blended in sRGB (as browsers paint SVG fills)."""
    top, bottom = _rgb(colour), _rgb(under)
    mixed = (opacity * t + (1 - opacity) * u for t, u in zip(top, bottom, strict=True))
    r, g, b = mixed
    return _hex((r, g, b))
