#!/usr/bin/env python3
"""Would a second, closer look at the bottle's top help? Scores a model on a labelled folder whose
labels.jsonl gives the top of the labelled bottle (`topXY`, 0..1 of width and height, as
eval/independent/svg-bottles.mjs writes it): once on the whole picture, then on square crops centred on
the top, each letterboxed to the model's input like the whole picture (Lanczos, black bars). The crops use
the generator's own top position, so this is an upper bound for a second stage that must find the top
itself; the model was not trained on such crops.

  /tmp/peervenv/bin/python training/crop_probe.py --model models/bottle-state/4 \
      --data /tmp/capcheck-data/independent --crops 0.8,0.6,0.4    # add --centre for the control

`--locate cam` needs no position from the generator: the model finds the top itself, from its class
activation map on the whole picture (the last feature map weighed by the difference of the two classes'
weights in the final layer; the centroid of the cells with at least half the largest evidence, either
way). That is a two-pass model without new training: the first pass is the usual one. `--locate attention
--weights PT --package DIR` asks a `train_v3.py --pool attention --top-weight` network instead: the
centroid of its pool's weights (AttentionLocator).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from preprocess import letterbox, letterbox_box  # noqa: E402

LABELS = ["closed", "open"]


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Exact two-sided McNemar p-value (as eval/compare.mjs)."""
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(only_a, only_b) + 1)) / 2**n
    return min(1.0, 2 * tail)


def crop_around(img: Image.Image, top_xy, side_share: float) -> Image.Image:
    """A square of side side_share x the picture's shorter side, centred on the top, kept inside."""
    w, h = img.size
    side = max(8, round(side_share * min(w, h)))
    cx, cy = top_xy[0] * w, top_xy[1] * h
    left = int(min(max(0, cx - side / 2), w - side))
    top = int(min(max(0, cy - side / 2), h - side))
    return img.crop((left, top, left + side, top + side))


class ActivationMap:
    """The model with a feature map as an extra output (by default its last, the one the final layer
    pools), and the final layer's class weights."""

    def __init__(self, model_path: str, layer: str | None = None):
        graph = onnx.load(model_path)
        pool = next(n for n in graph.graph.node if n.output[0] == "embedding")
        gemm = next(n for n in graph.graph.node if n.op_type == "Gemm" and n.input[0] == "embedding")
        weights = {i.name: numpy_helper.to_array(i) for i in graph.graph.initializer}
        fc = weights[gemm.input[1]]  # (classes, features)
        self.difference = fc[LABELS.index("closed")] - fc[LABELS.index("open")]
        self.map_name = layer or pool.input[0]
        graph.graph.output.append(onnx.helper.make_tensor_value_info(self.map_name, onnx.TensorProto.FLOAT, None))
        self.session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])

    def top_of(self, img: Image.Image, size: int, input_name: str):
        """Where the evidence is, as 0..1 of the picture's width and height."""
        features = self.session.run([self.map_name], {input_name: letterbox(img, size)[None]})[0][0]
        evidence = np.abs(np.tensordot(self.difference, features, axes=1))  # (rows, columns)
        weight = np.where(evidence >= evidence.max() / 2, evidence, 0)
        return cell_centroid(weight, img.size, size)


def cell_centroid(weight: np.ndarray, picture_size: tuple[int, int], size: int):
    """The weighted centroid of a map's cells, as 0..1 of the width and height of a picture of
    `picture_size`: cell centres on the model's input, then back through the letterbox
    (`preprocess.letterbox_box`)."""
    rows, cols = weight.shape
    gy, gx = np.mgrid[0:rows, 0:cols]
    x_in = ((gx + 0.5) / cols * size * weight).sum() / weight.sum()
    y_in = ((gy + 0.5) / rows * size * weight).sum() / weight.sum()
    left, top, nw, nh = letterbox_box(*picture_size, size)
    x = (x_in - left) / nw
    y = (y_in - top) / nh
    return (float(np.clip(x, 0, 1)), float(np.clip(y, 0, 1)))


def session_at(model_path: str, side: int | None):
    """The model as trained, or with its input's height and width left open, to run it at `side` px."""
    if side is None:
        return ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    graph = onnx.load(model_path)
    dims = graph.graph.input[0].type.tensor_type.shape.dim
    dims[1].dim_param, dims[2].dim_param = "height", "width"
    return ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])


class AttentionLocator:
    """A `train_v3.py --pool attention` network's own answer to where the top is: the centroid of its
    pool's cell weights on the whole picture (trained with `--top-weight`, the weights learn to sit on the
    top)."""

    def __init__(self, package: str, weights: str):
        import torch

        import train_v3

        self.torch = torch
        self.tail, self.head = train_v3.load_attention_net(package, weights)

    def top_of(self, img: Image.Image, size: int, _input_name: str = ""):
        x = self.torch.from_numpy(letterbox(img, size)[None]).float().div(255.0).permute(0, 3, 1, 2)
        with self.torch.no_grad():
            fmap = self.tail(x)
            weight = self.head.classify(fmap)[2].exp().reshape(fmap.shape[2:]).numpy()
        return cell_centroid(weight, img.size, size)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="folder with manifest.json and model.onnx")
    ap.add_argument("--data", required=True, help="folder with closed/, open/ and labels.jsonl (topXY)")
    ap.add_argument("--crops", default="0.6,0.4,0.25", help="crop sides as shares of the shorter side")
    ap.add_argument("--centre", action="store_true",
                    help="control: crop around the picture's centre instead of the top (no position known)")
    ap.add_argument("--locate", choices=["generator", "cam", "attention"], default="generator",
                    help="where the top is: the generator's topXY, the model's own activation map, or the "
                         "attention pool of --weights")
    ap.add_argument("--weights", help="with --locate attention: WORKDIR/mobilenet_none_SIZE_epochN.pt of a "
                                      "train_v3.py --pool attention run")
    ap.add_argument("--package", help="with --locate attention: the unpacked nsfwjs@4.4.0 tarball")
    ap.add_argument("--mean", action="store_true",
                    help="also score the mean of the whole picture's and each crop's probabilities (two views)")
    ap.add_argument("--side", type=int, help="run the model at this input side instead of its own")
    args = ap.parse_args(argv)
    manifest = json.load(open(os.path.join(args.model, "manifest.json")))
    size = args.side or manifest["input"]["shape"][1]
    session = session_at(os.path.join(args.model, manifest["file"]), args.side)
    if args.locate == "attention" and not (args.weights and args.package):
        ap.error("--locate attention needs --weights and --package")
    cam = (ActivationMap(os.path.join(args.model, manifest["file"])) if args.locate == "cam" else
           AttentionLocator(args.package, args.weights) if args.locate == "attention" else None)
    with open(os.path.join(args.data, "labels.jsonl")) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    shares = [float(s) for s in args.crops.split(",")]
    views = ["whole"] + [f"crop {s}" for s in shares] + ([f"mean whole+{s}" for s in shares] if args.mean else [])
    right = {v: [] for v in views}
    for row in rows:
        with Image.open(os.path.join(args.data, row["file"])) as im:
            img = im.convert("RGB")
        if args.centre:
            at = (0.5, 0.5)
        elif cam:
            at = cam.top_of(img, size, manifest["input"]["name"])
        else:
            at = row["topXY"]
        batch = [letterbox(img, size)] + [letterbox(crop_around(img, at, s), size) for s in shares]
        probs = session.run(None, {manifest["input"]["name"]: np.stack(batch)})[0]
        if args.mean:
            probs = np.concatenate([probs, (probs[:1] + probs[1:]) / 2])
        for view, p in zip(views, probs):
            right[view].append(LABELS[int(p.argmax())] == row["label"])
    report(right)


def report(right: dict, split=None):
    """Each view's share right, paired with the whole picture's (McNemar); `split(r)` adds a line."""
    whole = np.asarray(right["whole"])
    for view, answers in right.items():
        r = np.asarray(answers)
        line = f"{view:>10}: {100 * r.mean():.2f} % of {len(r)}"
        if view != "whole":
            only_whole, only_crop = int((whole & ~r).sum()), int((r & ~whole).sum())
            line += f" (right only whole {only_whole}, only this crop {only_crop}, p {mcnemar_exact(only_whole, only_crop):.3g})"
        print(line)
        if split:
            print(f"{'':>12}{split(r)}")


if __name__ == "__main__":
    main()
