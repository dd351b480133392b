"""Serving-equivalent preprocessing (numpy + PIL only, no torch), shared by train.py and verify_onnx.py.

decode -> EXIF orientation -> flatten alpha onto white -> RGB -> letterbox to 128x128
(scale so the longer side is 128 keeping the aspect ratio, Lanczos, centred, black padding)
-> uint8 [128,128,3] RGB. This is what the ONNX input "image" expects (plus a batch axis).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps

SIZE = 128


def letterbox_box(w: int, h: int, size: int = SIZE) -> tuple[int, int, int, int]:
    """Where letterbox() puts a w x h picture on the size x size canvas: (left, top, width, height)."""
    scale = min(size / w, size / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    return (size - nw) // 2, (size - nh) // 2, nw, nh


def letterbox(img: Image.Image, size: int = SIZE) -> np.ndarray:
    img = ImageOps.exif_transpose(img)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
        bg = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(bg, img)
    img = img.convert("RGB")
    w, h = img.size
    if (w, h) != (size, size):
        left, top, nw, nh = letterbox_box(w, h, size)
        img = img.resize((nw, nh), Image.LANCZOS)
        canvas = Image.new("RGB", (size, size), (0, 0, 0))
        canvas.paste(img, (left, top))
        img = canvas
    return np.asarray(img, np.uint8)


def load_image(path: str, size: int = SIZE) -> np.ndarray:
    with Image.open(path) as im:
        return letterbox(im, size)
