#!/usr/bin/env python3
"""Synthetic bottle pictures for the capcheck "bottle-state" classifier.

Renders bottles (long-neck beer, stubby, wine-style) in brown / green / clear /
blue glass with paper labels, either closed (crown cap, short screw cap, wine
screw cap, foil capsule) or open (bare neck, lip ring, visible mouth). Scenes
vary background (solid, gradients, value-noise textures, stripes, table+wall),
lighting, scale, position, rotation, mild blur, noise and JPEG quality (45-95), and contain
hard cases: a loose cap lying next to the bottle, partial occlusion (hands,
objects), several bottles where the labelled one is centred and largest,
close-ups of the neck, and letterboxed (non-square) pictures.

Everything is drawn with numpy + PIL. Image ``i`` of seed ``S`` uses its own
random stream ``numpy.random.default_rng([S, i])``, so output is deterministic
and any subset can be regenerated independently. Label of image ``i`` is
``LABELS[i % 2]`` so every batch is balanced.

Usage:
    python3 generate.py --out /tmp/bottles --count 2000 --seed 1 --size 128
        -> /tmp/bottles/closed/*.jpg, /tmp/bottles/open/*.jpg
    python3 generate.py --one closed --out x.jpg --seed 3 [--index 0]
        [--scenario plain|loose-cap|multi|occluded|closeup|letterbox]
"""

from __future__ import annotations

import argparse
import io
import math
import os
import sys
import time

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

# Output order of the model: index 0 = closed, index 1 = open.
LABELS = ("closed", "open")
SCENARIOS = ("plain", "loose-cap", "multi", "occluded", "closeup", "letterbox")
SUPERSAMPLE = 2  # scenes are drawn at 2x and downsampled (anti-aliasing)

GLASS = {
    # name: (list of base RGB colours, opacity)
    "brown": ([(92, 46, 14), (112, 62, 22), (70, 36, 12), (128, 74, 30)], 0.93),
    "green": ([(22, 92, 36), (44, 112, 52), (12, 70, 30), (70, 122, 40), (30, 60, 30)], 0.88),
    "clear": ([(222, 230, 226), (236, 238, 236), (214, 228, 236)], 0.30),
    "blue": ([(22, 52, 132), (34, 82, 164), (40, 60, 110)], 0.88),
}
GLASS_P = {"brown": 0.32, "green": 0.30, "clear": 0.22, "blue": 0.16}

CAP_COLOURS = [
    (200, 170, 60), (190, 190, 196), (170, 30, 30), (30, 60, 160), (25, 25, 28),
    (236, 236, 232), (30, 120, 50), (220, 120, 20), (120, 30, 90), (150, 110, 50),
    (90, 50, 20), (60, 100, 60), (210, 200, 170), (140, 140, 150),
]
PAPER_COLOURS = [
    (245, 242, 230), (236, 226, 196), (250, 250, 250), (200, 30, 36), (20, 20, 24),
    (30, 60, 140), (220, 180, 60), (40, 120, 60), (240, 200, 40), (170, 120, 70),
    (120, 20, 40), (200, 200, 210), (255, 140, 0), (90, 160, 200),
]
INK_COLOURS = [(20, 20, 20), (250, 250, 250), (180, 20, 20), (20, 40, 120), (200, 160, 40), (40, 90, 40)]
# --more-kinds only: bottle families beyond the three above, and the closures each can have
MORE_KINDS = ["longneck", "stubby", "wine", "pet", "jar", "swing"]
MORE_KINDS_P = [0.27, 0.13, 0.2, 0.17, 0.1, 0.13]
MORE_KINDS_CLOSURES = {
    "longneck": (["crown", "screw", "stelvin", "tcork"], [0.6, 0.25, 0.05, 0.1]),
    "stubby": (["crown", "screw", "stelvin"], [0.65, 0.3, 0.05]),
    "wine": (["stelvin", "foil", "cork", "tcork", "crown", "screw"], [0.32, 0.31, 0.15, 0.08, 0.05, 0.09]),
    "pet": (["screw", "sports", "lid"], [0.6, 0.35, 0.05]),
    "jar": (["lid"], [1.0]),
    "swing": (["swing", "crown"], [0.9, 0.1]),
}
CORK_COLOURS = [(180, 138, 86), (160, 116, 68), (200, 156, 100), (140, 100, 56), (214, 180, 130)]
STOPPER_COLOURS = [(236, 234, 226), (245, 245, 240), (30, 30, 32), (200, 200, 205), (60, 90, 150),
                   (150, 40, 40), (226, 214, 190)]
GASKET_COLOURS = [(200, 60, 30), (220, 110, 40), (40, 40, 40), (236, 200, 150), (190, 40, 60)]
WIRE_COLOURS = [(190, 190, 196), (150, 150, 156), (210, 205, 190), (120, 120, 128)]

SKIN = [(240, 200, 170), (224, 172, 130), (198, 134, 96), (150, 100, 70), (100, 66, 46), (250, 214, 190)]


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------

def _u(rng, lo, hi):
    return float(rng.uniform(lo, max(lo, hi)))


def _choice(rng, seq, p=None):
    return seq[int(rng.choice(len(seq), p=p))]


def _jitter_colour(rng, c, amount=18):
    return tuple(int(np.clip(v + rng.integers(-amount, amount + 1), 0, 255)) for v in c)


def _rand_colour(rng):
    return tuple(int(v) for v in rng.integers(0, 256, size=3))


def _value_noise(rng, h, w, cells):
    """Smooth noise in [0,1] of shape (h, w) from a (cells x cells) random grid."""
    cells = max(2, int(cells))
    grid = (rng.random((cells, cells)) * 255).astype(np.uint8)
    img = Image.fromarray(grid, "L").resize((w, h), Image.BICUBIC)
    return np.asarray(img, dtype=np.float32) / 255.0


def _fractal_noise(rng, h, w, octaves=None):
    octaves = octaves or int(rng.integers(2, 5))
    base = int(rng.integers(2, 8))
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        out += amp * _value_noise(rng, h, w, base * (2 ** o))
        total += amp
        amp *= _u(rng, 0.4, 0.65)
    out /= total
    lo, hi = out.min(), out.max()
    return (out - lo) / max(hi - lo, 1e-6)


def _lerp_colours(t, c1, c2):
    c1 = np.asarray(c1, np.float32)
    c2 = np.asarray(c2, np.float32)
    return c1 + (c2 - c1) * t[..., None]


# --------------------------------------------------------------------------
# backgrounds
# --------------------------------------------------------------------------

def _texture(rng, h, w, kind=None):
    kind = kind or _choice(rng, ["solid", "linear", "radial", "noise", "noise2", "stripes", "checker", "wood"],
                           p=[0.16, 0.17, 0.1, 0.17, 0.1, 0.1, 0.06, 0.14])
    c1, c2 = _rand_colour(rng), _rand_colour(rng)
    if rng.random() < 0.35:  # muted, photo-like colours
        g = rng.integers(60, 230)
        c1 = _jitter_colour(rng, (g, g, g), 30)
        c2 = _jitter_colour(rng, c1, 60)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "solid":
        out = np.empty((h, w, 3), np.float32)
        out[:] = c1
        return out
    if kind == "linear":
        a = _u(rng, 0, 2 * math.pi)
        t = (xx * math.cos(a) + yy * math.sin(a))
        t = (t - t.min()) / max(t.max() - t.min(), 1e-6)
        return _lerp_colours(t, c1, c2)
    if kind == "radial":
        cx, cy = _u(rng, 0, w), _u(rng, 0, h)
        t = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)
        t = np.clip(t / (_u(rng, 0.5, 1.2) * max(h, w)), 0, 1)
        return _lerp_colours(t, c1, c2)
    if kind == "noise":
        return _lerp_colours(_fractal_noise(rng, h, w), c1, c2)
    if kind == "noise2":  # per-channel coloured noise
        return np.stack([_fractal_noise(rng, h, w) * 255 for _ in range(3)], -1) * _u(rng, 0.4, 1.0) + _u(rng, 0, 80)
    if kind == "stripes":
        a = _u(rng, 0, math.pi)
        period = _u(rng, 6, 60)
        t = 0.5 + 0.5 * np.sin((xx * math.cos(a) + yy * math.sin(a)) * 2 * math.pi / period)
        if rng.random() < 0.5:
            t = (t > 0.5).astype(np.float32)
        return _lerp_colours(t, c1, c2)
    if kind == "checker":
        s = _u(rng, 8, 48)
        t = ((np.floor(xx / s) + np.floor(yy / s)) % 2).astype(np.float32)
        return _lerp_colours(t, c1, c2)
    # wood: stretched noise + rings
    wood = _choice(rng, [(150, 100, 60), (110, 70, 40), (190, 150, 100), (80, 50, 30), (200, 170, 130)])
    n = _value_noise(rng, h, w, 6)
    grain = 0.5 + 0.5 * np.sin((yy / _u(rng, 3, 9) + n * _u(rng, 4, 12)))
    t = 0.65 + 0.35 * grain
    return np.asarray(wood, np.float32) * t[..., None]


def _background(rng, h, w, horizon=None):
    bg = _texture(rng, h, w)
    if horizon is not None and rng.random() < 0.55:
        table = _texture(rng, h, w)
        y0 = int(np.clip(horizon, 0, h))
        bg[y0:] = table[y0:]
        if rng.random() < 0.5:  # a darker edge line
            bg[y0:y0 + max(1, h // 80)] *= _u(rng, 0.5, 0.85)
    # clutter: some soft shapes
    if rng.random() < 0.35:
        img = Image.fromarray(np.clip(bg, 0, 255).astype(np.uint8))
        d = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(1, 5))):
            x0, y0 = _u(rng, -0.2, 1.0) * w, _u(rng, -0.2, 1.0) * h
            x1, y1 = x0 + _u(rng, 0.05, 0.5) * w, y0 + _u(rng, 0.05, 0.5) * h
            if rng.random() < 0.5:
                d.rectangle([x0, y0, x1, y1], fill=_rand_colour(rng))
            else:
                d.ellipse([x0, y0, x1, y1], fill=_rand_colour(rng))
        img = img.filter(ImageFilter.GaussianBlur(_u(rng, 0, 4)))
        bg = np.asarray(img, np.float32)
    return bg


# --------------------------------------------------------------------------
# bottle
# --------------------------------------------------------------------------

def make_spec(rng, kind=None, strong=False):
    if kind is None and strong == 2:  # --more-kinds: also PET bottles, jars and swing-top (flip-top) bottles
        kind = _choice(rng, MORE_KINDS, p=MORE_KINDS_P)
    kind = kind or _choice(rng, ["longneck", "stubby", "wine"], p=[0.45, 0.25, 0.30])
    if kind == "swing":  # long neck with a thick lip for the gasket
        s = dict(R=_u(rng, .115, .15), r=_u(rng, .046, .058), lip_h=_u(rng, .035, .055),
                 neck_l=_u(rng, .1, .2), sh_l=_u(rng, .12, .22), nb=_u(rng, 1.05, 1.3), round=False)
    elif kind == "pet":  # short threaded finish, round shoulders
        s = dict(R=_u(rng, .13, .18), r=_u(rng, .05, .068), lip_h=_u(rng, .035, .055),
                 neck_l=_u(rng, .015, .06), sh_l=_u(rng, .1, .22), nb=_u(rng, 1.0, 1.1), round=True)
    elif kind == "jar":  # wide mouth, almost no neck
        s = dict(R=_u(rng, .22, .32), r=_u(rng, .16, .25), lip_h=_u(rng, .04, .08),
                 neck_l=_u(rng, .008, .03), sh_l=_u(rng, .02, .07), nb=_u(rng, 1.0, 1.04), round=True)
    elif kind == "longneck":
        s = dict(R=_u(rng, .112, .145), r=_u(rng, .043, .056), lip_h=_u(rng, .028, .04),
                 neck_l=_u(rng, .17, .27), sh_l=_u(rng, .13, .21), nb=_u(rng, 1.05, 1.3), round=False)
    elif kind == "stubby":
        s = dict(R=_u(rng, .16, .2), r=_u(rng, .058, .074), lip_h=_u(rng, .03, .045),
                 neck_l=_u(rng, .05, .12), sh_l=_u(rng, .12, .2), nb=_u(rng, 1.05, 1.25), round=False)
    else:
        s = dict(R=_u(rng, .108, .14), r=_u(rng, .041, .052), lip_h=_u(rng, .02, .034),
                 neck_l=_u(rng, .2, .3), sh_l=_u(rng, .06, .13), nb=_u(rng, 1.0, 1.12), round=True)
    if strong:  # wider shapes than the three families: every proportion scaled independently
        for k in ("R", "r", "lip_h", "neck_l", "sh_l"):
            s[k] *= _u(rng, 0.78, 1.28)
        s["R"] = max(s["R"], s["r"] * 1.3)
        s["nb"] = _u(rng, 1.0, 1.35)
        if rng.random() < 0.2:
            s["round"] = not s["round"]
    s["lip_r"] = s["r"] * _u(rng, 1.12, 1.3)
    s["kind"] = kind
    if strong == 2:
        s["more_kinds"] = True
    return s


def profile(s, t):
    """Half width (fraction of glass height) of the bottle at height t in [0,1] (0=top)."""
    t = np.asarray(t, np.float32)
    hw = np.full(t.shape, s["R"], np.float32)
    a = s["lip_h"]
    b = a + s["neck_l"]
    c = b + s["sh_l"]
    r, rnb, R = s["r"], s["r"] * s["nb"], s["R"]
    m = t < a
    q = np.clip(t[m] / a, 0, 1)
    hw[m] = r + (s["lip_r"] - r) * np.sqrt(np.clip(1 - (2 * q - 1) ** 4, 0, 1))
    m = (t >= a) & (t < b)
    q = (t[m] - a) / s["neck_l"]
    hw[m] = r + (rnb - r) * q ** 1.5
    m = (t >= b) & (t < c)
    q = (t[m] - b) / s["sh_l"]
    f = np.sqrt(np.clip(1 - (1 - q) ** 2, 0, 1)) if s["round"] else q * q * (3 - 2 * q)
    hw[m] = rnb + (R - rnb) * f
    heel = 0.035
    m = t > 1 - heel
    q = (t[m] - (1 - heel)) / heel
    hw[m] = R * (0.9 + 0.1 * np.sqrt(np.clip(1 - q ** 2, 0, 1)))
    return hw


def _label_texture(rng, tw, th):
    tw, th = max(4, int(tw)), max(4, int(th))
    paper = _choice(rng, PAPER_COLOURS)
    img = Image.new("RGB", (tw, th), _jitter_colour(rng, paper, 12))
    d = ImageDraw.Draw(img)
    ink = _choice(rng, INK_COLOURS)
    acc = _rand_colour(rng)
    for _ in range(int(rng.integers(0, 3))):  # stripes
        y = _u(rng, 0, th)
        d.rectangle([0, y, tw, y + _u(rng, 1, max(2, th * 0.15))], fill=_choice(rng, [ink, acc]))
    if rng.random() < 0.7:  # emblem in the middle
        cx, cy = tw * _u(rng, 0.4, 0.6), th * _u(rng, 0.3, 0.6)
        rx, ry = tw * _u(rng, 0.06, 0.2), th * _u(rng, 0.15, 0.4)
        shape = rng.integers(0, 3)
        if shape == 0:
            d.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=acc, outline=ink)
        elif shape == 1:
            d.rectangle([cx - rx, cy - ry, cx + rx, cy + ry], fill=acc, outline=ink)
        else:
            d.polygon([(cx, cy - ry), (cx + rx, cy), (cx, cy + ry), (cx - rx, cy)], fill=acc)
    # "text": word blocks
    lines = int(rng.integers(1, 5))
    for i in range(lines):
        y = th * (0.15 + 0.7 * (i + rng.random() * 0.5) / lines)
        lh = max(1.0, th * _u(rng, 0.04, 0.12))
        x = tw * _u(rng, 0.2, 0.4)
        xend = tw * _u(rng, 0.6, 0.8)
        while x < xend:
            ww = _u(rng, 2, max(3, tw * 0.08))
            d.rectangle([x, y, min(x + ww, xend), y + lh], fill=ink)
            x += ww + _u(rng, 1, 4)
    if rng.random() < 0.4:  # real letters, big or small
        txt = "".join(chr(int(c)) for c in rng.integers(65, 91, size=int(rng.integers(3, 9))))
        d.text((tw * _u(rng, 0.25, 0.45), th * _u(rng, 0.1, 0.7)), txt, fill=ink)
    return np.asarray(img, np.float32)


def _cyl_light(theta, light, amb, spec_k, spec_w, spec_pos):
    diffuse = np.maximum(0.0, np.cos(theta - light))
    shade = amb + (1 - amb) * diffuse
    spec = spec_k * np.exp(-((theta - spec_pos) / spec_w) ** 2)
    return shade, spec


def render_bottle(rng, height_px, state, spec=None, stretch=1.0, elev=None, light=None, allow_hard=True):
    """Render one upright bottle as float RGBA array (H, W, 4), values 0..255 / alpha 0..1.

    Returns (rgba, info) where info gives the glass top row, neck-bottom row etc. in layer pixels.
    """
    s = spec or make_spec(rng)
    Hg = float(height_px)
    sx = Hg * stretch
    elev = _u(rng, 0.03, 0.45) if elev is None else elev
    light = _u(rng, -1.0, 1.0) if light is None else light
    glass_name = _choice(rng, list(GLASS), p=[GLASS_P[k] for k in GLASS])
    gcols, galpha = GLASS[glass_name]
    gcol = np.asarray(_jitter_colour(rng, _choice(rng, gcols), 14), np.float32)

    # ---- closure / top decisions
    kind = s["kind"]
    closure = None
    more_kinds = s.get("more_kinds", False)
    if state == "closed" and more_kinds:
        closure = _choice(rng, *MORE_KINDS_CLOSURES[kind])
    elif state == "closed":
        if kind == "wine":
            closure = _choice(rng, ["stelvin", "foil", "crown", "screw"], p=[0.42, 0.42, 0.06, 0.10])
        else:
            closure = _choice(rng, ["crown", "screw", "stelvin"], p=[0.65, 0.3, 0.05])
    lip_r_px = s["lip_r"] * sx
    lip_h_px = s["lip_h"] * Hg
    cap = {}
    if closure == "crown":
        cr = lip_r_px * _u(rng, 1.06, 1.2)
        ch = cr * _u(rng, 0.36, 0.55)
        yb = lip_h_px * _u(rng, 0.75, 1.05)
        cap = dict(r=cr, yt=yb - ch, yb=yb, flutes=int(rng.integers(9, 12)) * 2)
    elif closure == "screw":
        cr = lip_r_px * _u(rng, 1.02, 1.16)
        ch = cr * _u(rng, 0.75, 1.5)
        yb = lip_h_px + s["r"] * sx * _u(rng, 0.2, 0.7)
        cap = dict(r=cr, yt=yb - ch, yb=yb, ridges=int(rng.integers(24, 60)))
    elif closure in ("stelvin", "foil"):
        length = Hg * (_u(rng, 0.09, 0.16) if closure == "stelvin" else _u(rng, 0.11, 0.22))
        length = min(length, Hg * (s["lip_h"] + s["neck_l"] + 0.3 * s["sh_l"]))
        cap = dict(yt=-max(1.0, lip_h_px * 0.15), yb=length, k=_u(rng, 1.03, 1.09))
    elif closure in ("sports", "lid"):
        cr = lip_r_px * (_u(rng, 1.0, 1.12) if closure == "sports" else _u(rng, 1.02, 1.08))
        ch = cr * (_u(rng, 0.7, 1.2) if closure == "sports" else _u(rng, 0.18, 0.4))
        yb = lip_h_px + s["r"] * sx * _u(rng, 0.2, 0.6) if closure == "sports" else lip_h_px * _u(rng, 1.0, 1.4)
        ridges = int(rng.integers(24, 60)) if closure == "sports" or rng.random() < 0.4 else 0
        cap = dict(r=cr, body_t=yb - ch, yt=yb - ch, yb=yb, ridges=ridges)
        if closure == "sports":  # pull-up spout on top of the cap
            sr, sh = cr * _u(rng, 0.35, 0.6), cr * _u(rng, 0.45, 1.0)
            cap.update(sr=sr, yt=yb - ch - sh)
    elif closure in ("cork", "tcork"):
        pr = lip_r_px * _u(rng, 0.6, 0.78)
        # a cork that stands proud of the lip: one flush with it is invisible from the side, i.e. no evidence
        up = lip_h_px * (_u(rng, 0.8, 2.2) if closure == "cork" else _u(rng, 0.4, 1.0))
        cap = dict(r=pr, shank_t=-up, yt=-up, yb=0.0)
        if closure == "tcork":  # wide head on a short shank
            hr, hh = lip_r_px * _u(rng, 1.05, 1.4), lip_r_px * _u(rng, 0.45, 1.0)
            cap.update(hr=hr, yt=-up - hh)
    swing_frame = more_kinds and kind == "swing" and (closure == "swing" or (state == "open" and rng.random() < 0.85))
    if swing_frame:  # porcelain stopper, rubber gasket, wire bail clamped to a ring on the neck
        dr, dh = lip_r_px * _u(rng, 0.95, 1.15), lip_r_px * _u(rng, 0.6, 1.1)
        gh = lip_h_px * _u(rng, 0.2, 0.4)
        y_ring = lip_h_px + s["neck_l"] * Hg * _u(rng, 0.1, 0.3)
        hang = state == "open" and rng.random() < 0.8  # else the stopper is off and the bail hangs down
        cap.update(dr=dr, dh=dh, gh=gh, y_ring=y_ring, hang=hang, side=1 if rng.random() < 0.5 else -1,
                   wire_w=max(0.7, lip_r_px * _u(rng, 0.06, 0.12)), p=_u(rng, 2.0, 4.0))
        if closure == "swing":
            cap["yt"] = -(gh + dh)
    cap_colour = np.asarray(_jitter_colour(rng, _choice(rng, CAP_COLOURS), 20), np.float32)
    if closure == "crown" and rng.random() < 0.08:
        cap_colour = gcol * _u(rng, 0.7, 1.3)  # cap similar to glass colour: force shape cues

    max_r = max(s["R"] * sx, cap.get("r", 0), cap.get("hr", 0), lip_r_px * 1.15)
    if cap.get("hang"):  # the stopper hangs beside the neck
        max_r = max(max_r, s["r"] * s["nb"] * sx + 2.2 * cap["dh"] + cap["wire_w"] + 2)
    top_extra = max(0.0, -cap.get("yt", 0.0)) if cap else 0.0
    T = int(math.ceil(top_extra + elev * max_r + 3))
    B = int(math.ceil(elev * s["R"] * sx + 3))
    Wl = int(2 * math.ceil(max_r) + 6)
    Hl = int(math.ceil(Hg)) + T + B
    X = (np.arange(Wl, dtype=np.float32) - Wl / 2 + 0.5)[None, :].repeat(Hl, 0)
    Y = (np.arange(Hl, dtype=np.float32) - T)[:, None].repeat(Wl, 1)

    t = np.clip(Y / Hg, 0, 0.99999)
    hw = profile(s, t) * sx
    hw_top = profile(s, np.array([0.5 * s["lip_h"]]))[0] * sx
    hw_bot = profile(s, np.array([0.99999]))[0] * sx
    ax = np.abs(X)

    cover = np.clip(hw - ax + 0.5, 0, 1) * ((Y >= 0) & (Y < Hg))
    # top ellipse (lip surface) and rounded bottom seen from slightly above
    et = elev * hw_top
    top_ell = (Y < 0) & (ax < hw_top) & (-Y < et * np.sqrt(np.clip(1 - (X / hw_top) ** 2, 0, 1)))
    eb = elev * hw_bot
    bot_ell = (Y >= Hg) & (ax < hw_bot) & ((Y - Hg) < eb * np.sqrt(np.clip(1 - (X / hw_bot) ** 2, 0, 1)))
    alpha_mask = np.maximum(cover, (top_ell | bot_ell).astype(np.float32))

    hw_safe = np.where(Y < 0, hw_top, np.where(Y >= Hg, hw_bot, hw))
    u = np.clip(X / np.maximum(hw_safe, 1e-3), -1, 1)
    theta = np.arcsin(u)
    amb = _u(rng, 0.35, 0.65)
    spec_pos = light * 0.6 + _u(rng, -0.2, 0.2)
    shade, spec = _cyl_light(theta, light, amb, _u(rng, 0.3, 0.9), _u(rng, 0.08, 0.22), spec_pos)
    spec2 = 0.35 * _u(rng, 0, 1) * np.exp(-((theta + spec_pos * 0.8) / 0.08) ** 2)

    rgb = np.empty((Hl, Wl, 3), np.float32)
    if glass_name == "clear":
        tint = gcol
        rgb[:] = tint * (0.6 + 0.4 * shade)[..., None]
        a = galpha * _u(rng, 0.7, 1.3) + (1 - galpha) * 0.75 * np.abs(u) ** 4
    else:
        edge = 1 - 0.5 * np.abs(u) ** 6
        rgb[:] = gcol * (shade * edge)[..., None]
        a = np.full((Hl, Wl), galpha, np.float32) + 0.07 * np.abs(u) ** 3
    # liquid inside
    if rng.random() < 0.45:
        fill_t = s["lip_h"] + s["neck_l"] * _u(rng, 0.3, 1.0) + s["sh_l"] * _u(rng, 0, 2.5)
        liquid = np.asarray(_choice(rng, [(200, 130, 30), (60, 30, 10), (230, 200, 80), (140, 20, 30), (220, 220, 200)]),
                            np.float32)
        m = Y > fill_t * Hg
        if glass_name == "clear":
            rgb[m] = (0.4 * rgb[m] + 0.6 * liquid * shade[m][..., None])
            a = np.where(m, np.maximum(a, 0.75), a)
        else:
            rgb[m] *= 0.8
    rgb += 255 * (spec + spec2)[..., None]
    a = np.clip(a + (spec + spec2) * 0.8, 0, 1)
    alpha = alpha_mask * a

    def paint(mask, colour_img, opacity=1.0):
        nonlocal alpha
        m = mask > 0
        if not m.any():
            return
        w = (mask * opacity)[m][..., None]
        rgb[m] = rgb[m] * (1 - w) + colour_img[m] * w
        alpha[m] = alpha[m] * (1 - w[..., 0]) + w[..., 0]

    # ---- body label
    body_top = (s["lip_h"] + s["neck_l"] + s["sh_l"]) * Hg
    if rng.random() < 0.85:
        lh = Hg * _u(rng, 0.14, 0.38)
        l1 = body_top + Hg * _u(rng, -0.04, 0.12)
        l1 = min(l1, Hg * 0.94 - lh)
        half = _u(rng, 0.8, math.pi / 2)
        tw = (2 * half) * s["R"] * sx
        tex = _label_texture(rng, tw, lh)
        row = Y - (l1 + elev * hw_safe * np.cos(theta))
        col = (theta + half) / (2 * half) * (tex.shape[1] - 1)
        m = (row >= 0) & (row < tex.shape[0] - 1) & (np.abs(theta) < half) & (alpha_mask > 0) & (Y > 0)
        img = np.zeros_like(rgb)
        ri = np.clip(row[m].astype(np.int32), 0, tex.shape[0] - 1)
        ci = np.clip(col[m].astype(np.int32), 0, tex.shape[1] - 1)
        lshade, lspec = _cyl_light(theta[m], light, amb, _u(rng, 0.05, 0.35), 0.25, spec_pos)
        img[m] = tex[ri, ci] * lshade[..., None] + 255 * lspec[..., None]
        paint(m.astype(np.float32) * alpha_mask, img)
        if rng.random() < 0.3 and s["kind"] != "stubby":  # shoulder label
            y1 = (s["lip_h"] + s["neck_l"] + s["sh_l"] * _u(rng, 0.2, 0.5)) * Hg
            y2 = y1 + Hg * _u(rng, 0.03, 0.07)
            ccol = np.asarray(_choice(rng, PAPER_COLOURS), np.float32)
            m2 = (Y > y1 + elev * hw_safe * np.cos(theta)) & (Y < y2 + elev * hw_safe * np.cos(theta)) & (alpha_mask > 0)
            paint(m2.astype(np.float32) * alpha_mask, np.broadcast_to(ccol, rgb.shape) * shade[..., None])

    # ---- neck label / cut foil (both states; never covers the lip)
    neck_band = None
    if kind == "longneck" and rng.random() < 0.3:
        y1 = Hg * (s["lip_h"] + _u(rng, 0.04, 0.1))
        neck_band = (y1, y1 + Hg * _u(rng, 0.04, 0.1))
    elif kind == "wine" and state == "open" and rng.random() < 0.2:  # cut foil below the lip
        y1 = lip_h_px * _u(rng, 1.5, 3.0)
        neck_band = (y1, Hg * (s["lip_h"] + s["neck_l"] * _u(rng, 0.4, 0.9)))
    if neck_band is not None:
        ncol = np.asarray(_jitter_colour(rng, _choice(rng, CAP_COLOURS + PAPER_COLOURS), 15), np.float32)
        nshade, nspec = _cyl_light(theta, light, amb * 0.8, _u(rng, 0.3, 0.9), 0.12, spec_pos)
        img = ncol * nshade[..., None] + 255 * nspec[..., None]
        ecos = elev * hw_safe * np.cos(theta)
        m = (Y > neck_band[0] + ecos) & (Y < neck_band[1] + ecos) & (alpha_mask > 0)
        paint(m.astype(np.float32) * alpha_mask, img)

    def cylinder(cr, y0, y1, colour, ridges=0, top=True, texture=None):
        """A vertical cylinder of radius cr from y0 (top) to y1, seen from elev; painted."""
        ec = elev * cr
        uc = np.clip(X / cr, -1, 1)
        thc = np.arcsin(uc)
        front = ec * np.sqrt(np.clip(1 - uc ** 2, 0, 1))
        cshade, cspec = _cyl_light(thc, light, _u(rng, 0.25, 0.5), _u(rng, 0.4, 1.0), _u(rng, 0.1, 0.25), spec_pos)
        img = colour * cshade[..., None] + 255 * cspec[..., None] * 0.6
        if ridges:
            img = img * (0.85 + 0.15 * np.cos(ridges * thc))[..., None]
        if texture is not None:
            img = img * texture[..., None]
        side = (ax < cr) & (Y >= y0) & (Y < y1 + front)
        paint(side.astype(np.float32) * np.clip(cr - ax + 0.5, 0, 1), img)
        if top and ec > 0.5:
            tm = ((X / cr) ** 2 + ((Y - y0) / ec) ** 2) < 1
            tcol = colour * _u(rng, 0.95, 1.2) + 8
            timg = np.broadcast_to(tcol, rgb.shape) * (0.75 + 0.25 * np.cos(thc - light))[..., None]
            if texture is not None:
                timg = timg * texture[..., None]
            paint(tm.astype(np.float32), timg)

    def wire(x0, y0, x1, y1, w, colour):
        dx, dy = x1 - x0, y1 - y0
        tt = np.clip(((X - x0) * dx + (Y - y0) * dy) / (dx * dx + dy * dy + 1e-6), 0, 1)
        d = np.hypot(X - (x0 + tt * dx), Y - (y0 + tt * dy))
        paint(np.clip(w / 2 + 0.5 - d, 0, 1), np.broadcast_to(colour, rgb.shape))

    if more_kinds and kind == "pet":  # support ring below the finish, in both states
        ring_y = cap["yb"] if closure in ("screw", "sports", "lid") else lip_h_px + s["r"] * sx * _u(rng, 0.2, 0.6)
        ring_y += s["r"] * sx * _u(rng, 0.08, 0.25)
        rcol = gcol * _u(rng, 0.9, 1.2) + 10
        cylinder(lip_r_px * _u(rng, 1.1, 1.3), ring_y - max(1.0, lip_h_px * _u(rng, 0.15, 0.3)), ring_y, rcol)
        if state == "open":  # threads on the bare finish
            n, slope = int(rng.integers(2, 5)), _u(rng, -0.15, 0.15)
            for k in range(n):
                yk = (ring_y - 1) * (k + 0.6) / (n + 0.4) + elev * hw_safe * np.cos(theta)
                m = (np.abs(Y - yk - X * slope) < max(0.6, lip_h_px * 0.12)) & (alpha_mask > 0) & (Y >= 0)
                paint(m.astype(np.float32) * 0.6, rgb * _u(rng, 0.45, 0.7))
    if more_kinds and kind == "jar" and state == "open":  # threads on the wide mouth
        for k in range(int(rng.integers(2, 4))):
            yk = lip_h_px * (0.3 + 0.3 * k) + elev * hw_safe * np.cos(theta)
            m = (np.abs(Y - yk) < max(0.6, lip_h_px * 0.1)) & (alpha_mask > 0) & (Y >= 0)
            paint(m.astype(np.float32) * 0.5, rgb * _u(rng, 0.5, 0.75))

    # ---- top: open mouth or closure
    if state == "open":
        if et > 0.6:
            rim = gcol * 1.15 + 25
            ell = ((X / hw_top) ** 2 + (Y / et) ** 2) < 1
            rshade = 0.6 + 0.4 * np.cos(theta - light) ** 2
            paint(ell.astype(np.float32), np.broadcast_to(rim, rgb.shape) * rshade[..., None],
                  1.0 if glass_name != "clear" else 0.6)
            ri_ = hw_top * _u(rng, 0.5, 0.72)
            inner = ((X / ri_) ** 2 + (Y / (et * ri_ / hw_top)) ** 2) < 1
            dark = gcol * _u(rng, 0.08, 0.35) if glass_name != "clear" else gcol * _u(rng, 0.3, 0.6)
            paint(inner.astype(np.float32), np.broadcast_to(dark, rgb.shape),
                  1.0 if glass_name != "clear" else 0.7)
        # a bright rim highlight line along the top edge
        if rng.random() < 0.6:
            line = (np.abs(Y + et * np.sqrt(np.clip(1 - (X / hw_top) ** 2, 0, 1))) < 1.0) & (ax < hw_top)
            paint(line.astype(np.float32) * 0.7, np.full_like(rgb, 235.0))
    elif closure in ("crown", "screw"):
        cr, yt, yb = cap["r"], cap["yt"], cap["yb"]
        ec = elev * cr
        uc = np.clip(X / cr, -1, 1)
        thc = np.arcsin(uc)
        front = ec * np.sqrt(np.clip(1 - uc ** 2, 0, 1))
        cshade, cspec = _cyl_light(thc, light, _u(rng, 0.25, 0.5), _u(rng, 0.4, 1.0), _u(rng, 0.1, 0.25), spec_pos)
        if closure == "crown":
            nf = cap["flutes"]
            flute = np.abs(np.sin(nf * thc / 2))
            bottom = yb + front - (yb - yt) * 0.18 * flute
            side = (ax < cr) & (Y >= yt) & (Y < bottom)
            zone = np.clip((Y - yt) / max(yb - yt, 1e-3), 0, 1)
            fl = 1 - 0.35 * (zone > 0.3) * np.cos(nf * thc / 2) ** 2
            img = cap_colour * (cshade * fl)[..., None] + 255 * cspec[..., None]
        else:
            side = (ax < cr) & (Y >= yt) & (Y < yb + front)
            ridge = 0.85 + 0.15 * np.cos(cap["ridges"] * thc)
            img = cap_colour * (cshade * ridge)[..., None] + 255 * cspec[..., None] * 0.6
            gap_y = yb - (yb - yt) * 0.25 + front
            img = np.where((np.abs(Y - gap_y) < max(0.6, (yb - yt) * 0.04))[..., None], img * 0.55, img)
        soft = np.clip(cr - ax + 0.5, 0, 1)
        paint(side.astype(np.float32) * soft, img)
        if ec > 0.5:
            top = ((X / cr) ** 2 + ((Y - yt) / ec) ** 2) < 1
            tcol = cap_colour * _u(rng, 0.95, 1.25) + 10
            timg = np.broadcast_to(tcol, rgb.shape) * (0.75 + 0.25 * np.cos(thc - light))[..., None]
            timg = timg.copy()
            if rng.random() < 0.5:  # printed logo disc
                lr = _u(rng, 0.3, 0.7)
                logo = ((X / (cr * lr)) ** 2 + ((Y - yt) / (ec * lr)) ** 2) < 1
                timg[logo] = np.asarray(_rand_colour(rng), np.float32)
            paint(top.astype(np.float32), timg)
    elif closure in ("stelvin", "foil"):
        yt, yb, k = cap["yt"], cap["yb"], cap["k"]
        chw = np.maximum(hw_safe, lip_r_px * 0.98) * k
        chw = np.where(Y < yb, np.maximum(profile(s, np.clip(Y / Hg, 0, 1)) * sx, lip_r_px * 0.98) * k, chw)
        ctop = max(profile(s, np.array([0.0]))[0] * sx, lip_r_px * 0.98) * k
        ec = elev * ctop
        uc = np.clip(X / np.maximum(chw, 1e-3), -1, 1)
        thc = np.arcsin(uc)
        front = elev * chw * np.sqrt(np.clip(1 - uc ** 2, 0, 1))
        cshade, cspec = _cyl_light(thc, light, _u(rng, 0.25, 0.5), _u(rng, 0.4, 1.0), _u(rng, 0.1, 0.25), spec_pos)
        img = cap_colour * cshade[..., None] + 255 * cspec[..., None]
        if closure == "foil":
            crinkle = _value_noise(rng, Hl, Wl, max(4, Wl // 3))
            img = img * (0.85 + 0.3 * crinkle)[..., None]
        else:
            for frac in (_u(rng, 0.15, 0.35), _u(rng, 0.6, 0.8)):
                yl = yt + (yb - yt) * frac
                img = np.where((np.abs(Y - yl - front) < max(0.6, Hg * 0.003))[..., None], img * 0.6, img)
        side = (ax < chw) & (Y >= yt) & (Y < yb + front)
        paint(side.astype(np.float32) * np.clip(chw - ax + 0.5, 0, 1), img)
        if ec > 0.5:
            top = ((X / ctop) ** 2 + ((Y - yt) / ec) ** 2) < 1
            paint(top.astype(np.float32), np.broadcast_to(cap_colour * _u(rng, 1.0, 1.25), rgb.shape).copy())

    elif closure in ("sports", "lid"):
        cylinder(cap["r"], cap["body_t"], cap["yb"], cap_colour, ridges=cap["ridges"])
        if "sr" in cap:
            scol = cap_colour if rng.random() < 0.5 else np.asarray(_rand_colour(rng), np.float32)
            cylinder(cap["sr"], cap["yt"], cap["body_t"] + elev * cap["sr"], scol)
    elif closure in ("cork", "tcork"):
        ccol = np.asarray(_jitter_colour(rng, _choice(rng, CORK_COLOURS), 12), np.float32)
        pores = 0.8 + 0.35 * _value_noise(rng, Hl, Wl, max(4, Wl // 2))
        cylinder(cap["r"], cap["shank_t"], cap["yb"], ccol, top=closure == "cork", texture=pores)
        if closure == "tcork":
            hcol = _choice(rng, [ccol, np.asarray(_jitter_colour(rng, _choice(rng, CAP_COLOURS), 20), np.float32)])
            cylinder(cap["hr"], cap["yt"], cap["shank_t"], hcol, ridges=int(rng.integers(0, 2)) * 40)
    if swing_frame:
        wcol = np.asarray(_jitter_colour(rng, _choice(rng, WIRE_COLOURS), 15), np.float32)
        pcol = np.asarray(_jitter_colour(rng, _choice(rng, STOPPER_COLOURS), 10), np.float32)
        gcol2 = np.asarray(_jitter_colour(rng, _choice(rng, GASKET_COLOURS), 15), np.float32)
        dr, dh, gh, y_ring, w = cap["dr"], cap["dh"], cap["gh"], cap["y_ring"], cap["wire_w"]
        hr_ring = profile(s, np.array([y_ring / Hg]))[0] * sx
        ring_front = elev * hr_ring * np.sqrt(np.clip(1 - (X / hr_ring) ** 2, 0, 1))
        ring = (ax < hr_ring + w) & (np.abs(Y - y_ring - ring_front) < w / 2 + 0.5)
        paint(ring.astype(np.float32), np.broadcast_to(wcol, rgb.shape))
        side = cap["side"]
        # the lever hangs down from the ring on one side
        wire(side * (hr_ring + w), y_ring, side * (hr_ring + lip_r_px * 0.35), y_ring + lip_r_px * _u(rng, 1.2, 2.2),
             w, wcol)
        if closure == "swing":
            cylinder(lip_r_px * _u(rng, 0.95, 1.05), -gh, lip_h_px * 0.2, gcol2, top=False)
            yc = -gh
            uc = np.clip(X / dr, -1, 1)
            width = dr * np.clip(1 - np.clip((yc - Y) / dh, 0, 1) ** cap["p"], 0, 1) ** (1 / cap["p"])
            dome = (Y >= yc - dh) & (Y < yc + elev * dr * np.sqrt(np.clip(1 - uc ** 2, 0, 1))) & (ax < width)
            dshade, dspec = _cyl_light(np.arcsin(uc), light, _u(rng, 0.35, 0.6), _u(rng, 0.5, 1.0), 0.15, spec_pos)
            paint(dome.astype(np.float32), pcol * dshade[..., None] + 255 * dspec[..., None])
            for sgn in (-1, 1):  # the bail: from the stopper's sides down to the ring
                wire(sgn * dr * 0.9, yc - dh * 0.55, sgn * (hr_ring + w * 0.5), y_ring, w, wcol)
        elif cap["hang"]:  # open: the stopper hangs beside the neck on its bail
            cxs = side * (hr_ring + 1.1 * dh + w)
            cys = y_ring + dr * _u(rng, -0.4, 0.8)
            ell = (((X - cxs) / dh) ** 2 + ((Y - cys) / dr) ** 2) < 1
            paint(ell.astype(np.float32), np.broadcast_to(pcol * _u(rng, 0.75, 1.05), rgb.shape))
            band = ell & (side * (X - cxs) < -dh * 0.55)
            paint(band.astype(np.float32), np.broadcast_to(gcol2, rgb.shape))
            wire(-side * (hr_ring + w * 0.5), y_ring, cxs, cys - dr * 0.5, w, wcol)
            wire(side * (hr_ring + w * 0.5), y_ring, cxs, cys + dr * 0.5, w, wcol)
        else:  # open, stopper off: the bail's two wires hang down along the neck
            for sgn in (-1, 1):
                wire(sgn * (hr_ring + w * 0.5), y_ring, sgn * (hr_ring + lip_r_px * 0.25),
                     y_ring + dh * _u(rng, 1.0, 2.0), w, wcol)

    # "top" region (cap of a closed bottle / lip and mouth of an open one): auxiliary training target
    if swing_frame:
        y_cut = cap["y_ring"] + cap["dr"] * 1.5 + 1
    elif closure in ("crown", "screw", "sports", "lid"):
        y_cut = cap["yb"] + elev * cap["r"] + 1
    elif closure in ("stelvin", "foil"):
        y_cut = cap["yt"] + min(cap["yb"] - cap["yt"], 2.5 * lip_h_px + lip_r_px)
    else:
        y_cut = lip_h_px * 1.6 + 0.3 * lip_r_px + et
    top_mask = (alpha > 0.05) & (Y < y_cut)

    rgba = np.concatenate([np.clip(rgb, 0, 255), alpha[..., None]], -1)
    info = dict(T=T, Hg=Hg, neck_bottom=T + (s["lip_h"] + s["neck_l"]) * Hg, glass=glass_name,
                closure=closure, kind=kind, width=2 * s["R"] * sx, cap_r=max(cap.get("r", 0), lip_r_px),
                top_mask=top_mask)
    return rgba, info


IGNORE = 255


def _mask_image(mask):
    return Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), "L")


def _to_image(rgba):
    arr = rgba.copy()
    arr[..., 3] *= 255
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGBA")


def _loose_cap(rng, size_px):
    """A cap lying on a surface, as an RGBA PIL image."""
    a = size_px
    b = a * _u(rng, 0.3, 0.75)
    thick = a * _u(rng, 0.2, 0.45)
    W, H = int(2 * a + 8), int(2 * b + thick + 8)
    img = Image.new("RGBA", (W, H), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    col = _jitter_colour(rng, _choice(rng, CAP_COLOURS), 20)
    dark = tuple(int(c * 0.55) for c in col)
    cx, cy = W / 2, b + 4
    crown = rng.random() < 0.7
    n = 84
    pts, pts_low = [], []
    for i in range(n):
        ang = 2 * math.pi * i / n
        rr = 1.0 + (0.07 if (crown and i % 4 < 2) else 0.0)
        pts.append((cx + a * rr * math.cos(ang), cy + b * rr * math.sin(ang)))
        pts_low.append((cx + a * rr * math.cos(ang), cy + thick + b * rr * math.sin(ang)))
    d.polygon(pts_low, fill=dark + (255,))
    d.rectangle([cx - a, cy, cx + a, cy + thick], fill=dark + (255,))
    d.polygon(pts, fill=col + (255,))
    if rng.random() < 0.45:  # upside down: liner visible
        liner = _choice(rng, [(200, 200, 200), (150, 140, 120), (230, 230, 225), (60, 60, 60)])
        d.ellipse([cx - a * 0.8, cy - b * 0.8, cx + a * 0.8, cy + b * 0.8], fill=liner + (255,))
    elif rng.random() < 0.5:
        d.ellipse([cx - a * 0.5, cy - b * 0.5, cx + a * 0.5, cy + b * 0.5], fill=_rand_colour(rng) + (255,))
    # highlight
    d.arc([cx - a * 0.9, cy - b * 0.9, cx + a * 0.9, cy + b * 0.9], 200, 300, fill=(255, 255, 255, 180),
          width=max(1, int(a * 0.08)))
    if rng.random() < 0.5:
        img = img.rotate(_u(rng, -40, 40), Image.BICUBIC, expand=True)
    return img


def _occluder(rng, W, H, region):
    """Draw a hand or object over region=(x0, y0, x1, y1) into a transparent RGBA image."""
    img = Image.new("RGBA", (W, H), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    x0, y0, x1, y1 = region
    bw = x1 - x0
    if rng.random() < 0.5:  # hand gripping the body
        skin = _jitter_colour(rng, _choice(rng, SKIN), 12)
        sdark = tuple(int(c * 0.8) for c in skin)
        side = -1 if rng.random() < 0.5 else 1
        cy = _u(rng, y0 + 0.1 * (y1 - y0), y1 - 0.2 * (y1 - y0))
        fh = bw * _u(rng, 0.16, 0.26)
        palm_x = (x1 if side > 0 else x0) + side * bw * _u(rng, 0.1, 0.4)
        d.ellipse([palm_x - bw * 0.6, cy - fh * 2.5, palm_x + bw * 0.6, cy + fh * 3.0], fill=skin + (255,))
        nfing = int(rng.integers(2, 5))
        for i in range(nfing):
            fy = cy - fh * 1.5 + i * fh * 1.05
            xa = palm_x
            xb = (x0 if side > 0 else x1) - side * bw * _u(rng, -0.1, 0.3)
            lo, hi = min(xa, xb), max(xa, xb)
            d.rounded_rectangle([lo, fy, hi, fy + fh], radius=fh / 2, fill=skin + (255,), outline=sdark + (255,))
        d.rectangle([palm_x - bw * 0.45, cy + fh * 2.2, palm_x + bw * 0.45, H + 10], fill=skin + (255,))
    else:
        col = _rand_colour(rng)
        ox0 = _u(rng, x0 - bw, x1 - bw * 0.3)
        oy0 = _u(rng, y0, y0 + (y1 - y0) * 0.6)
        ox1 = ox0 + bw * _u(rng, 0.6, 1.6)
        oy1 = oy0 + (y1 - y0) * _u(rng, 0.3, 1.2)
        shape = rng.integers(0, 3)
        if shape == 0:
            d.rectangle([ox0, oy0, ox1, oy1], fill=col + (255,))
        elif shape == 1:
            d.ellipse([ox0, oy0, ox1, oy1], fill=col + (255,))
        else:
            pts = [(ox0 + rng.random() * (ox1 - ox0), oy0 + rng.random() * (oy1 - oy0)) for _ in range(5)]
            d.polygon(pts, fill=col + (255,))
    return img


# --------------------------------------------------------------------------
# scene
# --------------------------------------------------------------------------

def _pick_scenario(rng, strong=False):
    r = rng.random()
    flags = dict(loose_cap=False, multi=False, occluded=False, closeup=False, letterbox=False)
    flags["loose_cap"] = rng.random() < (0.3 if strong else 0.16)
    flags["multi"] = rng.random() < (0.3 if strong else 0.2)
    flags["occluded"] = rng.random() < (0.25 if strong else 0.16)
    flags["closeup"] = rng.random() < 0.12
    flags["letterbox"] = rng.random() < (0.15 if strong else 0.12)
    del r
    return flags


# --------------------------------------------------------------------------
# strong domain randomisation (--strong): extra clutter, camera, light and optics
# --------------------------------------------------------------------------

def _ring(rng, size_px):
    """A bottle-mouth-like ring (dark hole in a light rim) lying around: looks like an open top."""
    a = size_px
    b = a * _u(rng, 0.3, 1.0)
    W, H = int(2 * a + 6), int(2 * b + 6)
    img = Image.new("RGBA", (W, H), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    rim = _jitter_colour(rng, _choice(rng, [(200, 200, 190), (120, 80, 40), (40, 110, 50), (180, 180, 185)]), 30)
    d.ellipse([3, 3, W - 3, H - 3], fill=rim + (255,))
    k = _u(rng, 0.45, 0.75)
    hole = tuple(int(v) for v in rng.integers(5, 60, size=3))
    d.ellipse([W / 2 - a * k, H / 2 - b * k, W / 2 + a * k, H / 2 + b * k], fill=hole + (255,))
    return img


def _clutter(rng, canvas, W, H, unit):
    """Objects around the bottle that look like parts of either class: loose caps, mouth-like rings,
    cans, boxes, balls. Drawn before the labelled bottle, so they never hide its top."""
    for _ in range(int(rng.integers(1, 5))):
        kind = _choice(rng, ["cap", "ring", "can", "box", "ball"], p=[0.35, 0.2, 0.15, 0.15, 0.15])
        size = unit * _u(rng, 0.6, 2.2)
        if kind == "cap":
            obj = _loose_cap(rng, size)
        elif kind == "ring":
            obj = _ring(rng, size)
        else:
            w, h = size * _u(rng, 1.5, 5), size * _u(rng, 1.5, 6)
            obj = Image.new("RGBA", (int(w) + 2, int(h) + 2), (0, 0, 0, 0))
            d = ImageDraw.Draw(obj)
            col = _rand_colour(rng) + (255,)
            if kind == "ball":
                d.ellipse([1, 1, w, w], fill=col)
            elif kind == "can":
                d.rounded_rectangle([1, 1, w, h], radius=w * 0.15, fill=col)
                d.ellipse([1, 1, w, w * 0.35], fill=_jitter_colour(rng, (190, 190, 195), 30) + (255,))
            else:
                d.rectangle([1, 1, w, h], fill=col)
        x = _u(rng, -0.1, 1.0) * W - obj.size[0] / 2
        y = _u(rng, 0.25, 1.0) * H - obj.size[1]
        canvas.alpha_composite(obj, (int(x), int(y)))


def _hue_rotate(arr, rng):
    """Rotate hue (YIQ) by a random angle: caps, glass and labels in colours the palettes lack."""
    ang = _u(rng, -math.pi, math.pi)
    m = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], np.float32)
    c, s_ = math.cos(ang), math.sin(ang)
    rot = np.array([[1, 0, 0], [0, c, -s_], [0, s_, c]], np.float32)
    t = np.linalg.inv(m) @ rot @ m
    return arr @ t.T.astype(np.float32)


def _strong_light(arr, rng, H, W):
    """Directional light fall-off, strong colour cast, glare, sometimes greyscale or hue-rotated."""
    if rng.random() < 0.45:
        yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
        ang = _u(rng, 0, 2 * math.pi)
        g = ((xx / W - 0.5) * math.cos(ang) + (yy / H - 0.5) * math.sin(ang)) * 2
        arr = arr * (1 + _u(rng, 0.15, 0.6) * g)[..., None]
    arr = arr * np.asarray([_u(rng, 0.78, 1.22) for _ in range(3)], np.float32)
    if rng.random() < 0.15:
        yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
        gx, gy, gr = _u(rng, 0, W), _u(rng, 0, H), _u(rng, 0.05, 0.3) * W
        arr = arr + _u(rng, 60, 200) * np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * gr * gr))[..., None]
    if rng.random() < 0.3:
        arr = _hue_rotate(arr, rng)
    if rng.random() < 0.08:
        arr = np.repeat(arr.mean(-1, keepdims=True), 3, -1)
    return arr


def _perspective(img, rng, amount):
    """Mild camera tilt: a random projective warp moving each corner by up to `amount` of the side."""
    W, H = img.size
    src = [(0, 0), (W, 0), (W, H), (0, H)]
    dst = [(x + _u(rng, -amount, amount) * W, y + _u(rng, -amount, amount) * H) for x, y in src]
    a = []
    b = []
    for (x, y), (u, v) in zip(dst, src):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        b += [u, v]
    coeffs = np.linalg.solve(np.asarray(a, np.float64), np.asarray(b, np.float64))
    fill = tuple(int(v) for v in np.asarray(img).reshape(-1, 3).mean(0))
    return img.transform((W, H), Image.PERSPECTIVE, tuple(coeffs), Image.BICUBIC, fillcolor=fill)


def _strong_optics(img, rng, size):
    """Defocus, motion blur, low resolution, chromatic aberration and sensor noise at output scale."""
    k = size / 128
    if rng.random() < 0.35:
        img = img.filter(ImageFilter.GaussianBlur(_u(rng, 0.4, 1.6) * k))
    if rng.random() < 0.2:
        w, h = img.size
        f = _u(rng, 0.35, 0.8)
        img = img.resize((max(8, int(w * f)), max(8, int(h * f))), Image.BILINEAR).resize((w, h), Image.BILINEAR)
    arr = np.asarray(img, np.float32)
    if rng.random() < 0.15:  # motion blur: average of shifted copies along a direction
        n = int(rng.integers(2, 5))
        ang = _u(rng, 0, math.pi)
        dx, dy = math.cos(ang), math.sin(ang)
        acc = np.zeros_like(arr)
        for i in range(n):
            acc += np.roll(arr, (int(round(i * dy * k)), int(round(i * dx * k))), (0, 1))
        arr = acc / n
    if rng.random() < 0.1:
        arr[..., 0] = np.roll(arr[..., 0], 1, 1)
        arr[..., 2] = np.roll(arr[..., 2], -1, 1)
    if rng.random() < 0.6:
        sigma = _u(rng, 1.0, 12.0)
        arr = arr + rng.normal(0, sigma, arr.shape).astype(np.float32)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def render_scene(rng, label, size=128, scenario=None, strong=False):
    """Render one picture. label: 'open' | 'closed'. strong: stronger domain randomisation (v3); 2: that
    and the bottle families and closures of MORE_KINDS / MORE_KINDS_CLOSURES (--more-kinds).

    Returns (PIL RGB image, meta dict, JPEG bytes, top map); the image is exactly the decoded JPEG
    bytes, so pictures written to disk and pictures generated in memory are identical. The top map
    (uint8 [size,size]) marks where the top of the labelled bottle is: 0 elsewhere, 1 = its closure
    (label closed), 2 = its open lip (label open), 255 = tops of other bottles (don't care). It is
    an auxiliary training target only.
    """
    assert label in LABELS
    if scenario is None:
        flags = _pick_scenario(rng, strong)
    else:
        assert scenario in SCENARIOS, scenario
        flags = dict(loose_cap=scenario == "loose-cap", multi=scenario == "multi", occluded=scenario == "occluded",
                     closeup=scenario == "closeup", letterbox=scenario == "letterbox")
    S = size * SUPERSAMPLE
    W = H = S
    if flags["letterbox"]:
        aspect = _u(rng, 0.5, 0.85) if rng.random() < 0.65 else _u(rng, 1.2, 1.5)  # w/h
        if strong and aspect > 1:
            aspect = _u(rng, 1.2, 1.9)
        if aspect < 1:
            W = int(round(S * aspect))
        else:
            H = int(round(S / aspect))

    light = _u(rng, -1.0, 1.0)
    elev = _u(rng, 0.03, 0.45)  # camera slightly above the bottle: tops are seen as ellipses
    if strong:
        elev = _u(rng, 0.0, 0.7)
    # main bottle size: height of the glass in px
    if flags["closeup"]:
        frac = _u(rng, 1.1, 2.2)
    else:
        frac = _u(rng, 0.55, 0.9) if not flags["multi"] else _u(rng, 0.6, 0.88)
        if H < W:  # landscape letterbox: the picture is small already
            frac = max(frac, _u(rng, 0.7, 0.92))
        if strong and rng.random() < 0.2:  # small bottle far from the camera
            frac = _u(rng, 0.3, 0.55)
    Hg = frac * H
    spec = make_spec(rng, strong=strong)
    # keep very wide bottles inside the frame
    stretch = _u(rng, 0.85, 1.2)
    max_w = 2 * spec["R"] * Hg * stretch
    if max_w > 0.9 * W and not flags["closeup"]:
        Hg *= 0.9 * W / max_w
    layer, info = render_bottle(rng, Hg, label, spec=spec, stretch=stretch, elev=elev, light=light)
    img = _to_image(layer)
    angle = _u(rng, -14, 14) if rng.random() < 0.75 else _u(rng, -3, 3)
    if strong and rng.random() < 0.25:
        angle = _u(rng, -30, 30)
    rimg = img.rotate(angle, Image.BICUBIC, expand=True)
    rtop = _mask_image(info["top_mask"]).rotate(angle, Image.NEAREST, expand=True)
    bw, bh = rimg.size
    # position: top of the bottle stays in view
    cx = W / 2 + _u(rng, -0.12, 0.12) * W
    if bh < H * 0.97:
        top = _u(rng, 0.02 * H, max(0.02 * H, H - bh - 0.01 * H))
    else:
        top = _u(rng, 0.02, 0.2) * H
    px, py = int(round(cx - bw / 2)), int(round(top))
    base_y = py + bh

    horizon = base_y - _u(rng, 0.03, 0.3) * H
    top_canvas = Image.new("L", (W, H), 0)
    bg = _background(rng, H, W, horizon=horizon)
    canvas = Image.fromarray(np.clip(bg, 0, 255).astype(np.uint8)).convert("RGBA")

    if strong and rng.random() < 0.2:  # bokeh: out-of-focus light discs behind the scene
        bok = Image.new("RGBA", (W, H), (0, 0, 0, 0))
        d = ImageDraw.Draw(bok)
        for _ in range(int(rng.integers(5, 25))):
            r = _u(rng, 0.02, 0.1) * W
            x, y = _u(rng, 0, W), _u(rng, 0, H)
            d.ellipse([x - r, y - r, x + r, y + r], fill=_rand_colour(rng) + (int(rng.integers(60, 200)),))
        canvas.alpha_composite(bok.filter(ImageFilter.GaussianBlur(_u(rng, 1, 4) * SUPERSAMPLE)))
    if strong and rng.random() < 0.55:
        _clutter(rng, canvas, W, H, max(3.0, info["cap_r"]))

    # distractor bottles (smaller, behind, off-centre)
    n_distract = int(rng.integers(1, 4)) if flags["multi"] else 0
    row = strong and flags["multi"] and rng.random() < 0.4  # bottles side by side, as on a line
    if row:
        n_distract = int(rng.integers(2, 7))
        gap = info["width"] * _u(rng, 1.05, 1.6)
    for k in range(n_distract):
        if row:
            dl, _dinfo = render_bottle(rng, Hg * _u(rng, 0.97, 1.03), _choice(rng, LABELS), spec=spec,
                                       stretch=stretch, elev=elev, light=light)
            dimg = _to_image(dl)
            off = (k // 2 + 1) * gap * (1 if k % 2 else -1)
            dx = px + bw / 2 + off - dimg.size[0] / 2
            dy = base_y - dimg.size[1]
            canvas.alpha_composite(dimg, (int(dx), int(dy)))
            top_canvas.paste(IGNORE, (int(dx), int(dy)), _mask_image(_dinfo["top_mask"]))
            continue
        dscale = _u(rng, 0.4, 0.78)
        dl, _dinfo = render_bottle(rng, Hg * dscale, _choice(rng, LABELS), stretch=_u(rng, 0.85, 1.2),
                                   elev=elev, light=light)
        dangle = _u(rng, -12, 12)
        dimg = _to_image(dl).rotate(dangle, Image.BICUBIC, expand=True)
        side = -1 if rng.random() < 0.5 else 1
        dx = cx + side * _u(rng, 0.25, 0.55) * W - dimg.size[0] / 2
        dy = base_y - dimg.size[1] - _u(rng, 0.0, 0.12) * H
        if dx > -dimg.size[0] and dy > -dimg.size[1]:
            canvas.alpha_composite(dimg, (int(dx), int(dy)))
            # tops of other bottles: "don't care" in the auxiliary target
            top_canvas.paste(IGNORE, (int(dx), int(dy)), _mask_image(_dinfo["top_mask"]).rotate(dangle, Image.NEAREST,
                                                                                                 expand=True))

    # soft shadow of the main bottle
    if rng.random() < 0.5:
        sh = Image.new("L", (W, H), 0)
        sh.paste(rimg.getchannel("A"), (px + int(_u(rng, -0.08, 0.08) * W), py + int(_u(rng, 0.0, 0.05) * H)))
        sh = sh.filter(ImageFilter.GaussianBlur(_u(rng, 3, 10)))
        sarr = np.asarray(sh, np.float32)[..., None] / 255.0 * _u(rng, 0.2, 0.5)
        carr = np.asarray(canvas, np.float32)
        carr[..., :3] *= 1 - sarr
        canvas = Image.fromarray(carr.astype(np.uint8), "RGBA")

    # loose cap lying next to the bottle (the picture keeps the main bottle's label)
    if flags["loose_cap"]:
        csize = max(3.0, info["cap_r"] * _u(rng, 0.9, 1.3))
        cimg = _loose_cap(rng, csize)
        side = -1 if rng.random() < 0.5 else 1
        ccx = px + bw / 2 + side * (info["width"] / 2 + _u(rng, 0.2, 2.5) * csize + cimg.size[0] / 2)
        if rng.random() < 0.75:
            ccy = base_y - cimg.size[1] * _u(rng, 0.3, 1.0)
        else:
            ccy = _u(rng, 0.3, 0.95) * H
        ccy = min(ccy, H - cimg.size[1] * 0.6)
        canvas.alpha_composite(cimg, (int(ccx - cimg.size[0] / 2), int(ccy)))

    canvas.alpha_composite(rimg, (px, py)) if px > -bw and py > -bh else None
    top_canvas.paste(1 + LABELS.index(label), (px, py), rtop)

    # What is left of the labelled bottle's top in view: the frame cuts it off, an occluder may hide it.
    shown_top = top_canvas.point(lambda v: 255 if v == 1 + LABELS.index(label) else 0)
    if flags["occluded"]:
        # occlusion below the neck only: the top of the bottle stays visible
        y0 = py + info["neck_bottom"] + 0.05 * Hg
        y1 = min(H, base_y)
        if y1 - y0 > 0.08 * H:
            x0, x1 = px + bw / 2 - info["width"] / 2, px + bw / 2 + info["width"] / 2
            occluder = _occluder(rng, W, H, (x0, y0, x1, y1))
            canvas.alpha_composite(occluder)
            shown_top.paste(0, (0, 0), occluder.getchannel("A"))
        else:  # neck reaches the bottom of the picture: nothing below it to hide
            flags["occluded"] = False
    whole_top = max(1, int(np.count_nonzero(np.asarray(rtop))))
    shown_top_px = int(np.count_nonzero(np.asarray(shown_top)))

    if strong and rng.random() < 0.4:
        canvas = _perspective(canvas.convert("RGB"), rng, 0.05).convert("RGBA")
    arr = np.asarray(canvas.convert("RGB"), np.float32)
    if strong:
        arr = _strong_light(arr, rng, H, W)

    # ---- photometric: brightness, contrast, saturation, gamma, colour cast, vignette
    arr *= _u(rng, 0.6, 1.35)
    mean = arr.mean()
    arr = (arr - mean) * _u(rng, 0.6, 1.35) + mean
    grey = arr.mean(-1, keepdims=True)
    arr = grey + (arr - grey) * _u(rng, 0.4, 1.4)
    arr *= np.asarray([_u(rng, 0.88, 1.12) for _ in range(3)], np.float32)
    arr = np.clip(arr, 0, 255)
    arr = 255 * (arr / 255) ** _u(rng, 0.75, 1.35)
    if rng.random() < 0.3:
        yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
        r2 = ((xx - W / 2) / (W / 2)) ** 2 + ((yy - H / 2) / (H / 2)) ** 2
        arr *= (1 - _u(rng, 0.15, 0.5) * np.clip(r2 / 2, 0, 1))[..., None]
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))

    # ---- downsample to output scale (longer side = size)
    ow, oh = (size, size) if W == H else ((round(W * size / H), size) if H > W else (size, round(H * size / W)))
    img = img.resize((max(1, ow), max(1, oh)), Image.LANCZOS if rng.random() < 0.5 else Image.BILINEAR)
    top_small = top_canvas.resize(img.size, Image.NEAREST)
    # degradations at output scale, moderate: a photo downscaled to 128 px is fairly sharp and clean
    if strong:
        img = _strong_optics(img, rng, size)
    else:
        if rng.random() < 0.3:
            img = img.filter(ImageFilter.GaussianBlur(_u(rng, 0.3, 0.9) * size / 128))
        arr = np.asarray(img, np.float32)
        if rng.random() < 0.5:
            arr = arr + rng.normal(0, _u(rng, 1.0, 6.0), arr.shape).astype(np.float32)
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    q = int(rng.integers(20, 96)) if strong else int(rng.integers(45, 96))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=q)
    data = buf.getvalue()
    img = Image.open(io.BytesIO(data)).convert("RGB")
    if img.size != (size, size):  # letterbox onto black, centred (same as serving with fit=contain)
        sq = Image.new("RGB", (size, size), (0, 0, 0))
        sq.paste(img, ((size - img.size[0]) // 2, (size - img.size[1]) // 2))
        tsq = Image.new("L", (size, size), 0)
        tsq.paste(top_small, ((size - img.size[0]) // 2, (size - img.size[1]) // 2))
        top_small = tsq
        buf = io.BytesIO()
        sq.save(buf, "JPEG", quality=95)
        data = buf.getvalue()
        img = Image.open(io.BytesIO(data)).convert("RGB")
    meta = dict(label=label, kind=info["kind"], glass=info["glass"], closure=info["closure"],
                jpeg_quality=q, strong=strong, **{k: bool(v) for k, v in flags.items()},
                # the share of the top in view, and its area in output pixels (before the letterbox bars)
                top_shown=round(shown_top_px / whole_top, 3),
                top_px=round(shown_top_px * (ow * oh) / (W * H), 1))
    return img, meta, data, np.asarray(top_small, np.uint8)


def render_index(seed, index, size=128, scenario=None, label=None, strong=False):
    """Deterministic picture number `index` of `seed`. Label defaults to LABELS[index % 2]."""
    rng = np.random.default_rng([int(seed), int(index)])
    label = label or LABELS[index % 2]
    return render_scene(rng, label, size=size, scenario=scenario, strong=strong)


def generate_arrays(count, seed, size=128, progress=False, start=0, strong=False):
    """Render pictures start..start+count-1 of `seed` into memory.

    Returns (uint8 [N,size,size,3], int64 labels [N] indexing LABELS, list of meta dicts,
    uint8 top maps [N,size,size] (see render_scene)).
    """
    X = np.empty((count, size, size, 3), np.uint8)
    y = np.empty((count,), np.int64)
    tops = np.empty((count, size, size), np.uint8)
    metas = []
    t0 = time.time()
    for k in range(count):
        img, meta, _, top = render_index(seed, start + k, size, strong=strong)
        X[k] = np.asarray(img, np.uint8)
        tops[k] = top
        y[k] = LABELS.index(meta["label"])
        metas.append(meta)
        if progress and (k + 1) % 1000 == 0:
            print(f"  generated {k + 1}/{count} (seed {seed}) in {time.time() - t0:.0f}s", flush=True)
    return X, y, metas, tops


def write_bytes(path, data):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output folder (batch mode) or .jpg path (with --one)")
    ap.add_argument("--count", type=int, default=1000, help="number of pictures (half open, half closed)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=128, help="output side in pixels (square)")
    ap.add_argument("--one", choices=LABELS, help="render a single picture of this label to --out")
    ap.add_argument("--index", type=int, default=0, help="with --one: picture number within the seed")
    ap.add_argument("--scenario", choices=SCENARIOS, help="force a scenario (default: random mix)")
    ap.add_argument("--strong", action="store_true",
                    help="stronger domain randomisation (model v3): shapes, clutter, camera, light, optics")
    ap.add_argument("--more-kinds", action="store_true",
                    help="with --strong: also PET bottles, jars, swing tops, corks and T-corks")
    args = ap.parse_args(argv)
    if args.more_kinds:
        args.strong = 2

    if args.one:
        _img, meta, data, _top = render_index(args.seed, args.index, args.size, scenario=args.scenario, label=args.one,
                                       strong=args.strong)
        write_bytes(args.out, data)
        print(f"{args.out}: {meta}")
        return 0
    t0 = time.time()
    for lab in LABELS:
        os.makedirs(os.path.join(args.out, lab), exist_ok=True)
    for i in range(args.count):
        _img, meta, data, _top = render_index(args.seed, i, args.size, scenario=args.scenario, strong=args.strong)
        write_bytes(os.path.join(args.out, meta["label"], f"s{args.seed}_{i:06d}.jpg"), data)
        if (i + 1) % 500 == 0:
            print(f"{i + 1}/{args.count} in {time.time() - t0:.1f}s", flush=True)
    print(f"wrote {args.count} pictures to {args.out} in {time.time() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
