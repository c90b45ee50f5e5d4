"""The map's colours and symbols, chosen for WCAG 2.1 AA, and the contrast arithmetic that
checks them (`tests/a11y/test_contrast.py`).

- Categories: fifteen dark colours found by a maximin search (not a named palette: Tol's
  and Okabe–Ito's sets have at most ten, and their light members cannot carry white text):
  every pair stays ≥ `MIN_CATEGORY_DE00` apart in CIEDE2000 for normal vision and for
  simulated protanopia and deuteranopia (Machado 2009), every colour carries white text at
  ≥ 4.5:1 (the marker's letters and the cluster's number) and stands ≥ 3:1 against the
  map's background. Fifteen colours can be told apart side by side, not named from memory:
  each category also has a two-letter symbol drawn inside its marker, cluster and layer
  entry, so no one needs to tell the colours apart.
- Areas: a light-to-mid sequential scale (ColorBrewer YlOrRd, safe for colour-blind
  readers) under a dark outline that stands ≥ 3:1 against every class, so neighbouring
  areas are always told apart; the number behind a class is printed in the area's label
  (text on a light label background, ≥ 4.5:1), so the shade is never the only carrier.

WCAG's definitions: relative luminance of sRGB, contrast (L1 + 0.05) / (L2 + 0.05);
a translucent fill is first blended over what lies beneath it, in sRGB as browsers do.
"""

from __future__ import annotations

import math

MAP_BACKGROUND = "#eef0ec"  # .leaflet-container in map_style.css (no tiles)
AREA_OUTLINE = "#222222"
AREA_OPACITY_NO_TILES = 0.75
AREA_OPACITY_TILES = 0.55
CHANGE_OPACITY = 0.8
REST_OPACITY = 0.2  # "Övriga kommunen": large and thinly spread, so only a tint of its class
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

# code -> (colour, symbol): symbols are unique; colours chosen by a maximin search over
# dark sRGB colours (white text ≥ 4.5:1) for CIEDE2000 distance under normal vision,
# protanopia and deuteranopia (Machado 2009), the duplicates' grey included.
CATEGORY_STYLE: dict[str, tuple[str, str]] = {
    "klotter": ("#540078", "Kl"),
    "skadegorelse": ("#783c30", "Sk"),
    "nedskrapning": ("#a86000", "Ns"),
    "brand": ("#903c00", "Br"),
    "ordningsstorning": ("#0054b4", "Os"),
    "storande_samling": ("#246cf0", "Ss"),
    "narkotika": ("#6c4878", "Na"),
    "vald": ("#602430", "Vå"),
    "hot": ("#9c6078", "Ho"),
    "inbrott": ("#0000c0", "In"),
    "stold": ("#480cfc", "St"),
    "buskorning": ("#786c9c", "Bu"),
    "otrygg_plats": ("#542400", "Ot"),
    "hot_vald_personal": ("#542448", "HP"),
    "ovrigt": ("#a86054", "Öv"),
}
# Extra categories (LAGESBILD_EXTRA_CATEGORIES) reuse catalogue colours; their symbol differs.
FALLBACK_COLOURS = ("#0054b4", "#a86000", "#540078", "#903c00", "#786c9c", "#602430")
MIN_CATEGORY_DE00 = 9.0  # CIEDE2000, every pair, normal vision and simulated protan/deutan
DUPLICATE_COLOUR = "#595959"  # likely duplicates' markers: neutral grey, apart from every category


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


# --- colour vision: CIELAB, CIEDE2000 and simulated colour blindness --------------------
#
# The category colours are checked for distance as people with a red–green deficiency see
# them (`tests/unit/test_palette_cvd.py`): each colour is simulated with Machado, Oliveira &
# Fernandes (2009), severity 1.0 (applied to linear sRGB), and every pair must stay
# `MIN_CATEGORY_DE00` apart in CIEDE2000 (Sharma, Wu & Dalal 2005).

MACHADO_2009: dict[str, tuple[tuple[float, float, float], ...]] = {
    "protanopia": (
        (0.152286, 1.052583, -0.204868),
        (0.114503, 0.786281, 0.099216),
        (-0.003882, -0.048116, 1.051998),
    ),
    "deuteranopia": (
        (0.367322, 0.860646, -0.227968),
        (0.280085, 0.672501, 0.047413),
        (-0.011820, 0.042940, 0.968881),
    ),
    "tritanopia": (
        (1.255528, -0.076749, -0.178779),
        (-0.078411, 0.930809, 0.147602),
        (0.004733, 0.691367, 0.303900),
    ),
}
_D65 = (0.95047, 1.0, 1.08883)


def _linear(channel: float) -> float:
    c = channel / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _gamma(linear: float) -> float:
    c = min(1.0, max(0.0, linear))
    return 255 * (12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055)


def simulate(colour: str, deficiency: str) -> str:
    """`colour` as seen with `deficiency` (a key of `MACHADO_2009`), as sRGB."""
    matrix = MACHADO_2009[deficiency]
    rgb = [_linear(c) for c in _rgb(colour)]
    out = [sum(m * c for m, c in zip(row, rgb, strict=True)) for row in matrix]
    r, g, b = (_gamma(c) for c in out)
    return _hex((r, g, b))


def lab(colour: str) -> tuple[float, float, float]:
    """CIELAB (D65) of an sRGB colour."""
    r, g, b = (_linear(c) for c in _rgb(colour))
    xyz = (
        0.4124564 * r + 0.3575761 * g + 0.1804375 * b,
        0.2126729 * r + 0.7151522 * g + 0.0721750 * b,
        0.0193339 * r + 0.1191920 * g + 0.9503041 * b,
    )

    def f(t: float) -> float:
        return t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29

    fx, fy, fz = (f(v / w) for v, w in zip(xyz, _D65, strict=True))
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def ciede2000(lab1: tuple[float, float, float], lab2: tuple[float, float, float]) -> float:
    """The CIEDE2000 colour difference (kL = kC = kH = 1)."""
    l1, a1, b1 = lab1
    l2, a2, b2 = lab2
    c_mean = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    g = 0.5 * (1 - math.sqrt(c_mean**7 / (c_mean**7 + 25**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
    h1p = math.degrees(math.atan2(b1, a1p)) % 360 if c1p else 0.0
    h2p = math.degrees(math.atan2(b2, a2p)) % 360 if c2p else 0.0
    dl, dc = l2 - l1, c2p - c1p
    if c1p * c2p == 0:
        dh = 0.0
    elif abs(h2p - h1p) <= 180:
        dh = h2p - h1p
    elif h2p - h1p > 180:
        dh = h2p - h1p - 360
    else:
        dh = h2p - h1p + 360
    dhh = 2 * math.sqrt(c1p * c2p) * math.sin(math.radians(dh / 2))
    l_mean, cp_mean = (l1 + l2) / 2, (c1p + c2p) / 2
    if c1p * c2p == 0:
        h_mean = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        h_mean = (h1p + h2p) / 2
    elif h1p + h2p < 360:
        h_mean = (h1p + h2p + 360) / 2
    else:
        h_mean = (h1p + h2p - 360) / 2
    t = (
        1
        - 0.17 * math.cos(math.radians(h_mean - 30))
        + 0.24 * math.cos(math.radians(2 * h_mean))
        + 0.32 * math.cos(math.radians(3 * h_mean + 6))
        - 0.20 * math.cos(math.radians(4 * h_mean - 63))
    )
    d_theta = 30 * math.exp(-(((h_mean - 275) / 25) ** 2))
    r_c = 2 * math.sqrt(cp_mean**7 / (cp_mean**7 + 25**7))
    s_l = 1 + 0.015 * (l_mean - 50) ** 2 / math.sqrt(20 + (l_mean - 50) ** 2)
    s_c = 1 + 0.045 * cp_mean
    s_h = 1 + 0.015 * cp_mean * t
    r_t = -math.sin(math.radians(2 * d_theta)) * r_c
    return math.sqrt(
        (dl / s_l) ** 2 + (dc / s_c) ** 2 + (dhh / s_h) ** 2 + r_t * (dc / s_c) * (dhh / s_h)
    )


def colour_distance(a: str, b: str, vision: str | None = None) -> float:
    """CIEDE2000 between two sRGB colours, as seen normally (`vision` None) or simulated."""
    if vision is not None:
        a, b = simulate(a, vision), simulate(b, vision)
    return ciede2000(lab(a), lab(b))
