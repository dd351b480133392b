#!/usr/bin/env python3
"""Where does a `train_v3.py --pool attention` network look? On folders whose labels.jsonl records `topXY`
(the labelled bottle's top, shares of width and height: eval/independent's SVG and POV-Ray sets), the
distance from the attention's strongest cell and from its centroid to the top (crop_probe.cell_centroid
maps cells back to the picture; distances in shares of its width and height, as locator_probe.py
measures), against the picture's centre as a baseline; and the accuracy where the strongest cell
is near the top and elsewhere.

  /tmp/peervenv/bin/python training/attention_probe.py --package /tmp/package \
    --weights /tmp/capcheck-v3/mobilenet_none_158_epoch4.pt --data /tmp/capcheck-data/independent
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_v3  # noqa: E402
from crop_probe import cell_centroid  # noqa: E402
import v3data  # noqa: E402

NEAR = 0.2  # "near the top": within a fifth of the picture's width and height
CLOSE = 0.1  # the attention's centroid as a locator: within a tenth (as locator_probe.py counts)


def probe(tail, head, folder: str, size: int):
    X, y, files = v3data.load_folder(folder, size)
    records = {}
    with open(os.path.join(folder, "labels.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            records[os.path.join(folder, r["file"])] = r
    strongest, centroid, centre, right, peaks = [], [], [], [], []
    for a in range(0, len(y), 64):
        with torch.no_grad():
            fmap = tail(torch.from_numpy(X[a : a + 64]).float().div(255.0).permute(0, 3, 1, 2))
            logits, _, log_weights = head.classify(fmap)
            weights = log_weights.exp().reshape(len(fmap), *fmap.shape[2:]).numpy()
        for j, w in enumerate(weights):
            r = records[files[a + j]]
            picture, top = (r["width"], r["height"]), r["topXY"]
            peak = (w == w.max()).astype(np.float64)
            strongest.append(np.hypot(*np.subtract(cell_centroid(peak, picture, size), top)))
            centroid.append(np.hypot(*np.subtract(cell_centroid(w, picture, size), top)))
            centre.append(np.hypot(*np.subtract((0.5, 0.5), top)))
            right.append(int(logits[j].argmax()) == y[a + j])
            peaks.append(w.max())
    strongest, centroid, right = np.asarray(strongest), np.asarray(centroid), np.asarray(right)
    near = strongest < NEAR
    print(f"{folder}: {len(y)} pictures, {right.mean() * 100:.2f} % right; median distance to the top: "
          f"strongest cell {np.median(strongest):.3f}, attention centroid {np.median(centroid):.3f}, picture "
          f"centre {np.median(centre):.3f}; strongest cell within {NEAR} of the top: {near.mean() * 100:.1f} % "
          f"(right there {right[near].mean() * 100 if near.any() else float('nan'):.1f} %, elsewhere "
          f"{right[~near].mean() * 100:.1f} %); median largest weight {np.median(peaks):.3f} "
          f"(uniform: {1 / weights[0].size:.3f}); centroid within {CLOSE} of the top: "
          f"{(centroid < CLOSE).mean() * 100:.1f} %", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--package", required=True, help="unpacked nsfwjs@4.4.0 tarball")
    ap.add_argument("--weights", required=True, help="WORKDIR/mobilenet_none_SIZE_epochN.pt of a --pool attention run")
    ap.add_argument("--data", action="append", required=True, help="folder with closed/, open/ and labels.jsonl")
    ap.add_argument("--size", type=int, default=158)
    args = ap.parse_args(argv)
    torch.set_flush_denormal(True)
    torch.set_num_threads(1)
    tail, head = train_v3.load_attention_net(args.package, args.weights)
    for folder in args.data:
        probe(tail, head, folder, args.size)


if __name__ == "__main__":
    main()
