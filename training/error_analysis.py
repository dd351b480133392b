#!/usr/bin/env python3
"""Where a model is wrong on generate.py's own pictures: accuracy by what the generator drew.

Scores an exported model (its manifest's input size; the pictures are rendered at that size, so the
service's letterbox is the identity) on pictures `--start`.. of `--seed`, and tabulates accuracy by the
generator's metadata: label, closure, bottle kind, glass, scene flags, JPEG quality, the share of the
labelled bottle's top left in view (`top_shown`: the frame or an occluder can hide it) and its area in
output pixels (`top_px`), and the model's confidence. Optionally saves a contact sheet of wrong answers.

  /usr/bin/python3 training/error_analysis.py --model models/bottle-state/4 --more-kinds --count 3000 \
      --sheet /tmp/wrong.png

Needs onnxruntime for Python (not packaged in Debian: the wheel in a --system-site-packages venv).
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import os
import sys

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import generate  # noqa: E402


def score(model_dir, seed, start, count, strong):
    import onnxruntime as ort

    manifest = json.load(open(os.path.join(model_dir, "manifest.json")))
    size = manifest["input"]["shape"][1]
    session = ort.InferenceSession(os.path.join(model_dir, manifest["file"]), providers=["CPUExecutionProvider"])
    labels = manifest["labels"]
    rows = []
    for i in range(start, start + count):
        _img, meta, data, _top = generate.render_index(seed, i, size, strong=strong)
        x = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), np.uint8)[None]
        p = session.run([manifest["output"]["name"]], {manifest["input"]["name"]: x})[0][0]
        best = int(np.argmax(p))
        rows.append(dict(meta, index=i, answer=labels[best], confidence=float(p[best])))
    return manifest, size, rows


def table(rows, name, key, min_count):
    groups = collections.defaultdict(list)
    for r in rows:
        groups[key(r)].append(r["answer"] == r["label"])
    cells = sorted(((k, len(v), 100 * sum(v) / len(v)) for k, v in groups.items()), key=lambda t: t[2])
    print(f"{name}: " + "; ".join(f"{k} {a:.1f} % of {n}" for k, n, a in cells if n >= min_count))


def bins(value, edges):
    for edge in edges:
        if value < edge:
            return f"<{edge}"
    return f">={edges[-1]}"


def sheet(rows, seed, size, strong, path):
    wrong = [r for r in rows if r["answer"] != r["label"]][:24]
    cell = 2 * size
    out = Image.new("RGB", (6 * cell, 4 * (cell + 14)), "white")
    for k, r in enumerate(wrong):
        _img, _meta, data, _top = generate.render_index(seed, r["index"], size, strong=strong)
        x, y = (k % 6) * cell, (k // 6) * (cell + 14)
        out.paste(Image.open(io.BytesIO(data)).convert("RGB").resize((cell, cell), Image.NEAREST), (x, y + 14))
        text = f"{r['index']} {r['label']} {r['closure']}: {r['answer']} {r['confidence']:.2f}"
        ImageDraw.Draw(out).text((x + 2, y), text, fill="black")
    out.save(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="a model folder (manifest.json + its ONNX file)")
    ap.add_argument("--seed", type=int, default=2, help="2: the test seed of every version")
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--v2-style", action="store_true", help="v2's scenes instead of --strong")
    ap.add_argument("--more-kinds", action="store_true", help="--strong --more-kinds (v3 and v4's data)")
    ap.add_argument("--min-count", type=int, default=10, help="leave out groups smaller than this")
    ap.add_argument("--sheet", help="save up to 24 wrong answers as a PNG contact sheet here")
    args = ap.parse_args()
    strong = False if args.v2_style else (2 if args.more_kinds else True)
    manifest, size, rows = score(args.model, args.seed, args.start, args.count, strong)
    right = sum(r["answer"] == r["label"] for r in rows)
    threshold = manifest.get("certainty_threshold")
    print(f"{manifest['name']}/{manifest['version']} on {len(rows)} pictures of seed {args.seed} "
          f"(strong={strong}, {size} px): {100 * right / len(rows):.2f} %")
    if threshold is not None:
        wc = sum(r["answer"] != r["label"] and r["confidence"] >= threshold for r in rows)
        print(f"wrong and certain (confidence >= {threshold}): {wc}")
    for name in ["label", "closure", "kind", "glass"]:
        table(rows, name, lambda r, n=name: r[n], args.min_count)
    for flag in ["loose_cap", "multi", "occluded", "closeup", "letterbox"]:
        table(rows, flag, lambda r, f=flag: r[f], args.min_count)
    table(rows, "jpeg_quality", lambda r: bins(r["jpeg_quality"], [30, 50, 70, 90]), args.min_count)
    table(rows, "top_shown", lambda r: bins(r["top_shown"], [0.5, 0.8, 0.95]), args.min_count)
    table(rows, "top_px", lambda r: bins(r["top_px"], [20, 40, 80, 160, 320]), args.min_count)
    table(rows, "confidence", lambda r: bins(r["confidence"], [0.6, 0.7, 0.8, 0.9, 0.97]), args.min_count)
    if args.sheet:
        sheet(rows, args.seed, size, strong, args.sheet)
        print(f"wrong answers: {args.sheet}")


if __name__ == "__main__":
    main()
