#!/usr/bin/env python3
"""The from-scratch comparison for v3: v2's BottleNet (trained from random weights on generate.py pictures),
fine-tuned on exactly v3's training data at v3's input size, calibrated and evaluated like train_v3.py.

Also reports v2 as shipped (its own weights, 192 px) on the folders given with --eval-set. Writes
WORKDIR/compare_bottlenet.json; nothing is exported (this model is only a yardstick).

  nice -n 19 /usr/bin/python3 training/compare_bottlenet.py --epochs 2 \
    --extra-train /work/data/blender/train --extra-val /work/data/blender/val \
    --eval-set independent=/work/data/independent
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from types import SimpleNamespace

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import train as v2train  # noqa: E402
import v3data  # noqa: E402
from train_v3 import choose_threshold, ece, metrics, softmax, fit_temperature  # noqa: E402

REPO = os.path.dirname(HERE)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=144)
    ap.add_argument("--workdir", default=v3data.WORKDIR)
    ap.add_argument("--v2", default=os.path.join(REPO, "models", "bottle-state", "2", "model.onnx"))
    ap.add_argument("--train-count", type=int)
    ap.add_argument("--only-rendered", action="store_true")
    ap.add_argument("--extra-train", action="append", default=[])
    ap.add_argument("--extra-repeat", type=int, default=3)
    ap.add_argument("--extra-val", action="append", default=[])
    ap.add_argument("--eval-set", action="append", default=[], help="NAME=DIR")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    t_start = time.time()
    v2train.SIZE = args.size  # train.py's augmentation crops to this

    X_tr, y_tr, _ = v3data.load_set("train", args.size, args.workdir, args.train_count, args.only_rendered)
    Xs, ys = [X_tr], [y_tr]
    for d in args.extra_train:
        X, y, _ = v3data.load_folder(d, args.size)
        Xs += [X] * args.extra_repeat
        ys += [y] * args.extra_repeat
    X_tr, y_tr = np.concatenate(Xs), np.concatenate(ys)
    X_va, y_va, _ = v3data.load_set("val", args.size, args.workdir)
    for d in args.extra_val:
        X, y, _ = v3data.load_folder(d, args.size)
        X_va, y_va = np.concatenate([X_va, X]), np.concatenate([y_va, y])
    evals = [(name, d) for name, d in (s.split("=", 1) for s in args.eval_set)]
    results = {"train_pictures": int(len(y_tr)), "validation_pictures": int(len(y_va))}

    # v2 as shipped (192 px) on the folders
    net = v2train.BottleNet()
    X192 = v3data.load_folder(evals[0][1], 192)[0][:512] if evals else X_tr[:512]
    v2train.init_from_onnx(net, args.v2, X192)
    shipped = v2train.Exported(net)
    results["v2_as_shipped_192px"] = {
        name: metrics(y, v2train.predict(shipped, X)) for name, (X, y, _) in
        ((n, v3data.load_folder(d, 192)) for n, d in evals)}
    print("v2 as shipped:", {k: v["accuracy"] for k, v in results["v2_as_shipped_192px"].items()}, flush=True)

    # fine-tune v2's weights on v3's data at v3's size (no auxiliary top loss: the folders have no top maps)
    model = v2train.Exported(net)
    ns = SimpleNamespace(seed=0, lr=args.lr, weight_decay=5e-4, batch=64, epochs=args.epochs, label_smoothing=0.0,
                         top_weight=0.0, top_bg_weight=0.1, jitter=0.5, init_onnx=args.v2, workdir=args.workdir)
    t0 = time.time()
    history, best_epoch = v2train.train(model, X_tr, y_tr, np.zeros(X_tr.shape[:3], np.uint8), X_va, y_va, ns)
    t_train = time.time() - t0
    lv = np.log(np.clip(v2train.predict(model, X_va), 1e-7, 1))  # log-probabilities as logits (flip TTA inside)
    T = fit_temperature(lv, y_va)
    threshold = choose_threshold(y_va, softmax(lv, T))
    tests = {}
    sets = [("synthetic", v3data.load_set("test_strong", args.size, args.workdir)[:2]),
            ("synthetic_v2_style", v3data.load_set("test_v2style", args.size, args.workdir)[:2])]
    sets += [(n, v3data.load_folder(d, args.size)[:2]) for n, d in evals]
    for name, (X, y) in sets:
        lt = np.log(np.clip(v2train.predict(model, X), 1e-7, 1))
        m = metrics(y, softmax(lt, T), threshold)
        m["ece_uncalibrated"] = round(ece(y, softmax(lt)), 4)
        tests[name] = m
        print(f"bottlenet fine-tuned, {name}: {m['accuracy']}", flush=True)
    results["bottlenet_finetuned"] = dict(size=args.size, epochs=args.epochs, best_epoch=best_epoch,
                                          history=history, temperature=round(T, 4), certainty_threshold=threshold,
                                          tests=tests, seconds_training=round(t_train, 1),
                                          multiply_adds_per_picture=2 * v2train.macs(net))  # x2: flip TTA
    results["seconds"] = round(time.time() - t_start, 1)
    with open(os.path.join(args.workdir, "compare_bottlenet.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(json.dumps({k: v["accuracy"] for k, v in tests.items()}))


if __name__ == "__main__":
    main()
