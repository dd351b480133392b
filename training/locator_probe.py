#!/usr/bin/env python3
"""Can v4's own features find the bottle's top, given a little training? The first pass of a two-pass
model, tried without training a network: v4's last feature map (4x4 cells at 158 px, 1280 features a
cell) gets one linear "topness" score per cell, the same weights for every cell (a 1x1 convolution),
fitted by ridge regression to how much of each cell the labelled bottle's top covers. The targets come
from the training generator's top maps (`training/generate.py`, seed 21, which no test set uses), never
from the evaluation set. On a labelled folder (eval/independent/svg-bottles.mjs, with `topXY`) it then
prints how far the located top lies from the generator's, and how v4 scores on square crops around it,
as `crop_probe.py` does around the true position.

  /tmp/peervenv/bin/python training/locator_probe.py --model models/bottle-state/4 \
      --data /tmp/capcheck-data/independent --crops 0.8,0.6 [--centre]

The training pictures are made here (`generate.generate_arrays`, the v3 data's strong randomisation with
more kinds; about a minute for 3,000).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import generate  # noqa: E402
from crop_probe import LABELS, ActivationMap, cell_centroid, crop_around, report  # noqa: E402
from preprocess import letterbox  # noqa: E402


def cell_shares(tops: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """For each picture and cell, the share of the cell's pixels on the labelled bottle's top (values 1, 2)."""
    labelled = ((tops == 1) | (tops == 2)).astype(np.float32)
    out = np.empty((len(tops), rows, cols), np.float32)
    for r, band in enumerate(np.array_split(labelled, rows, axis=1)):
        for c, cell in enumerate(np.array_split(band, cols, axis=2)):
            out[:, r, c] = cell.mean(axis=(1, 2))
    return out


def feature_maps(cam: ActivationMap, pictures: np.ndarray, input_name: str) -> np.ndarray:
    return np.concatenate(
        [cam.session.run([cam.map_name], {input_name: pictures[i : i + 64]})[0] for i in range(0, len(pictures), 64)]
    )


def fit_topness(features: np.ndarray, shares: np.ndarray, ridge: float) -> np.ndarray:
    """Weights (features + 1 bias) of one linear score per cell, shared by all cells."""
    n, k, rows, cols = features.shape
    a = features.transpose(0, 2, 3, 1).reshape(-1, k)
    a = np.concatenate([a, np.ones((len(a), 1), np.float32)], axis=1).astype(np.float64)
    t = shares.reshape(-1).astype(np.float64)
    return np.linalg.solve(a.T @ a + ridge * np.eye(a.shape[1]), a.T @ t)


def locate(weights: np.ndarray, features: np.ndarray, img: Image.Image, size: int):
    """The top as 0..1 of the picture: the centroid of the cells scoring at least half the best."""
    k = features.shape[0]
    score = np.tensordot(weights[:k], features, axes=1) + weights[k]
    weight = np.where(score >= score.max() / 2, np.maximum(score, 0), 0)
    if weight.sum() <= 0:
        weight = (score == score.max()).astype(np.float64)
    return cell_centroid(weight, img.size, size)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train-count", type=int, default=3000, help="generated pictures to fit the locator on")
    ap.add_argument("--train-seed", type=int, default=21, help="the generator's seed (no test set uses 21)")
    ap.add_argument("--model", required=True, help="folder with manifest.json and model.onnx")
    ap.add_argument("--data", required=True, help="folder with closed/, open/ and labels.jsonl (topXY)")
    ap.add_argument("--crops", default="0.8,0.6", help="crop sides as shares of the shorter side")
    ap.add_argument("--ridge", type=float, default=10.0)
    ap.add_argument("--centre", action="store_true",
                    help="control: crop around the picture's centre instead of the located top")
    ap.add_argument("--layer", default="/tail/block_13_expand_relu/Clip_output_0",
                    help="the feature map to score (default: stride 16, 576 features; the last map is stride 32)")
    args = ap.parse_args(argv)
    manifest = json.load(open(os.path.join(args.model, "manifest.json")))
    size, input_name = manifest["input"]["shape"][1], manifest["input"]["name"]
    cam = ActivationMap(os.path.join(args.model, manifest["file"]), args.layer or None)

    pictures, _, _, tops = generate.generate_arrays(args.train_count, args.train_seed, size, strong=2)
    features = feature_maps(cam, pictures, input_name)
    shares = cell_shares(tops, *features.shape[2:])
    weights = fit_topness(features, shares, args.ridge)
    print(f"fitted on {len(pictures)} generated pictures, feature map {features.shape[1:]}")

    with open(os.path.join(args.data, "labels.jsonl")) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    shares_of_side = [float(s) for s in args.crops.split(",")]
    views = ["whole"] + [f"crop {s}" for s in shares_of_side] + [f"mean whole+{s}" for s in shares_of_side]
    right = {v: [] for v in views}
    distances = []
    for row in rows:
        with Image.open(os.path.join(args.data, row["file"])) as im:
            img = im.convert("RGB")
        whole = letterbox(img, size)
        fmap = cam.session.run([cam.map_name], {input_name: whole[None]})[0][0]
        located = locate(weights, fmap, img, size)
        distances.append(np.hypot(located[0] - row["topXY"][0], located[1] - row["topXY"][1]))
        at = (0.5, 0.5) if args.centre else located
        batch = [whole] + [letterbox(crop_around(img, at, s), size) for s in shares_of_side]
        probs = cam.session.run([manifest["output"]["name"]], {input_name: np.stack(batch)})[0]
        # the two passes' probabilities averaged: the crop adds a closer look without losing the whole
        probs = np.concatenate([probs, (probs[:1] + probs[1:]) / 2])
        for view, p in zip(views, probs):
            right[view].append(LABELS[int(p.argmax())] == row["label"])
    d = np.asarray(distances)
    print(f"located top to the generator's: median {np.median(d):.3f} of the side, within 0.1: {100 * (d < 0.1).mean():.1f} %")
    near = d < 0.1
    report(right, lambda r: f"located within 0.1: {100 * r[near].mean():.2f} % of {near.sum()}; "
                            f"farther: {100 * r[~near].mean():.2f} % of {(~near).sum()}")


if __name__ == "__main__":
    main()
