#!/usr/bin/env python3
"""The from-scratch comparison for v3: v2's BottleNet (trained from random weights on generate.py pictures),
fine-tuned on exactly v3's training data at v3's input size, calibrated and evaluated like train_v3.py.

Also reports v2 as shipped (its own weights, 192 px) on the folders given with --eval-set. Writes
WORKDIR/compare_bottlenet.json; nothing is exported (this model is only a yardstick).

  nice -n 19 /usr/bin/python3 training/compare_bottlenet.py --epochs 2 \
    --extra-train /tmp/capcheck-data/blender/train --extra-val /tmp/capcheck-data/blender/val \
    --eval-set independent=/tmp/capcheck-data/independent
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
    v3data.add_style_flag(ap)
    ap.add_argument("--size", type=int, default=144)
    ap.add_argument("--workdir", default=v3data.WORKDIR)
    ap.add_argument("--v2", default=os.path.join(REPO, "models", "bottle-state", "2", "model.onnx"))
    ap.add_argument("--train-count", type=int)
    ap.add_argument("--val-count", type=int)
    ap.add_argument("--only-rendered", action="store_true")
    ap.add_argument("--extra-train", action="append", default=[])
    ap.add_argument("--extra-repeat", type=int, default=3)
    ap.add_argument("--extra-val", action="append", default=[])
    ap.add_argument("--eval-set", action="append", default=[], help="NAME=DIR")
    ap.add_argument("--epochs", type=int, default=2, help="0: only evaluate v2 as shipped")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--test-count", type=int, help="pictures of the v3-style synthetic test set (default 2000)")
    ap.add_argument("--skip-shipped", action="store_true", help="do not evaluate v2 as shipped at 192 px")
    ap.add_argument("--no-flip-tta", action="store_true", help="no mirrored second pass (halves the cost)")
    args = ap.parse_args(argv)
    v3data.use_style(args)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    t_start = time.time()
    v2train.SIZE = args.size  # train.py's augmentation crops to this

    evals = [(name, d) for name, d in (s.split("=", 1) for s in args.eval_set)]
    results = {}
    net = v2train.BottleNet()
    X_calib = v3data.load_set("val", args.size, args.workdir, v3data.CHUNK)[0][:128]
    v2train.init_from_onnx(net, args.v2, X_calib)  # BatchNorm statistics re-created from these pictures
    if args.skip_shipped:
        results["v2_as_shipped_192px"] = "not run here (see the independent sets' own v2 baselines)"
    else:
        run_shipped(net, evals, results)
    out = os.path.join(args.workdir, "compare_bottlenet.json")
    with open(out, "w") as f:
        json.dump(results, f, indent=2)
    if args.epochs == 0:
        return
    fine_tune(net, evals, results, out, args)


def run_shipped(net, evals, results):
    """v2 as shipped (192 px, flip TTA) on the folders."""
    shipped = v2train.Exported(net)
    results["v2_as_shipped_192px"] = {
        name: metrics(y, v2train.predict(shipped, X)) for name, (X, y, _) in
        ((n, v3data.load_folder(d, 192)) for n, d in evals)}
    print("v2 as shipped:", {k: v["accuracy"] for k, v in results["v2_as_shipped_192px"].items()}, flush=True)


def epoch_scorer(evals, results, out, args):
    """After every epoch: keep the weights (WORKDIR/bottlenet_epoch{N}.pt, so a stopped run can export any
    epoch) and record accuracy and uncalibrated ECE on the --eval-set folders. For information only: the
    epoch is chosen on validation, never on these sets."""
    folders = [(n, v3data.load_folder(d, args.size)[:2]) for n, d in evals]
    results["per_epoch"] = []

    def on_epoch(epoch, model, row):
        torch.save(model.net.state_dict(), os.path.join(args.workdir, f"bottlenet_epoch{epoch}.pt"))
        scores = {}
        for name, (X, y) in folders:
            p = v2train.predict(model, X)
            scores[name] = dict(accuracy=round(float((p.argmax(1) == y).mean()), 4), ece=round(ece(y, p), 4))
        results["per_epoch"].append(dict(row, eval_sets=scores))
        print(f"epoch {epoch} on the eval sets: " + ", ".join(f"{k} {v['accuracy']}" for k, v in scores.items()),
              flush=True)
        with open(out, "w") as f:
            json.dump(results, f, indent=2)

    return on_epoch


def fine_tune(net, evals, results, out, args):
    t_start = time.time()
    X_tr, y_tr, _ = v3data.load_set("train", args.size, args.workdir, args.train_count, args.only_rendered)
    Xs, ys = [X_tr], [y_tr]
    for d in args.extra_train:
        X, y, _ = v3data.load_folder(d, args.size)
        Xs += [X] * args.extra_repeat
        ys += [y] * args.extra_repeat
    X_tr, y_tr = np.concatenate(Xs), np.concatenate(ys)
    X_va, y_va, _ = v3data.load_set("val", args.size, args.workdir, args.val_count)
    for d in args.extra_val:
        X, y, _ = v3data.load_folder(d, args.size)
        X_va, y_va = np.concatenate([X_va, X]), np.concatenate([y_va, y])
    results.update(train_pictures=int(len(y_tr)), validation_pictures=int(len(y_va)))

    # fine-tune v2's weights on v3's data at v3's size (no auxiliary top loss: the folders have no top maps)
    model = v2train.Exported(net, flip_tta=not args.no_flip_tta)
    on_epoch = epoch_scorer(evals, results, out, args)
    on_epoch(0, model, {"epoch": 0})
    ns = SimpleNamespace(seed=0, lr=args.lr, weight_decay=5e-4, batch=64, epochs=args.epochs, label_smoothing=0.0,
                         top_weight=0.0, top_bg_weight=0.1, jitter=0.5, init_onnx=args.v2, workdir=args.workdir,
                         on_epoch=on_epoch)
    t0 = time.time()
    history, best_epoch = v2train.train(model, X_tr, y_tr, np.zeros(X_tr.shape[:3], np.uint8), X_va, y_va, ns)
    t_train = time.time() - t0
    lv = np.log(np.clip(v2train.predict(model, X_va), 1e-7, 1))  # log-probabilities as logits (flip TTA inside)
    T = fit_temperature(lv, y_va)
    threshold = choose_threshold(y_va, softmax(lv, T))
    tests = {}
    sets = [("synthetic", v3data.load_set("test_strong", args.size, args.workdir, args.test_count)[:2]),
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
                                          flip_tta=not args.no_flip_tta,
                                          multiply_adds_per_picture=v2train.macs(net) * (1 if args.no_flip_tta else 2))
    torch.save(net.state_dict(), os.path.join(args.workdir, "bottlenet_v3data.pt"))
    results["seconds"] = round(time.time() - t_start, 1)
    with open(out, "w") as f:
        json.dump(results, f, indent=2)
    print(json.dumps({k: v["accuracy"] for k, v in tests.items()}))


if __name__ == "__main__":
    main()
