#!/usr/bin/env python3
"""Check a model.onnx written by train.py (default: the newest models/bottle-state/<version>/) with onnxruntime (needs onnxruntime, numpy, PIL; no torch).

  * input/output names, dtypes and shapes match the contract in manifest.json
  * the dynamic batch dimension works (batch 1, 3 and 64)
  * outputs equal the torch outputs saved by train.py (--reference, default
    /tmp/capcheck-train/reference_batch.npz) within --tol
  * the sample pictures in models/bottle-state/samples/ are classified as their labels
  * optionally: accuracy on --synthetic-count freshly generated pictures of --synthetic-seed
  * --update-manifest writes the result into manifest.json under verification.onnxruntime_python

Debian has no onnxruntime package; one way is a throw-away venv from a local wheel, e.g.
  /usr/bin/python3 -m venv --system-site-packages /tmp/ortvenv
  /tmp/ortvenv/bin/pip install onnxruntime
  /tmp/ortvenv/bin/python training/verify_onnx.py --update-manifest
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from preprocess import load_image  # noqa: E402

REPO = os.path.dirname(HERE)
MODELS = os.path.join(REPO, "models", "bottle-state")


def newest_version_dir():
    versions = [d for d in os.listdir(MODELS) if d.isdigit() and os.path.exists(os.path.join(MODELS, d, "manifest.json"))]
    return os.path.join(MODELS, max(versions, key=int))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", default=newest_version_dir())
    ap.add_argument("--reference", default="/tmp/capcheck-train/reference_batch.npz")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--synthetic-count", type=int, default=0)
    ap.add_argument("--synthetic-seed", type=int, default=2)
    ap.add_argument("--update-manifest", action="store_true")
    args = ap.parse_args(argv)

    import onnxruntime as ort

    mpath = os.path.join(args.model_dir, "manifest.json")
    with open(mpath) as f:
        manifest = json.load(f)
    labels = manifest["labels"]
    _, height, width, _ = manifest["input"]["shape"]
    so_opts = ort.SessionOptions()
    so_opts.intra_op_num_threads = 1  # shared machine: one core
    so_opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(os.path.join(args.model_dir, "model.onnx"), so_opts,
                                providers=["CPUExecutionProvider"])
    so = sess.get_inputs()[0]
    oo = sess.get_outputs()[0]
    res = dict(version=ort.__version__,
               input=dict(name=so.name, type=so.type, shape=so.shape),
               output=dict(name=oo.name, type=oo.type, shape=oo.shape))
    ok = True

    def check(cond, msg):
        nonlocal ok
        print(("ok   " if cond else "FAIL ") + msg)
        ok = ok and bool(cond)

    check(so.name == manifest["input"]["name"] == "image", f"input name {so.name}")
    check(so.type == "tensor(uint8)", f"input type {so.type}")
    check(list(so.shape[1:]) == [height, width, 3] and not isinstance(so.shape[0], int), f"input shape {so.shape}")
    check(oo.name == manifest["output"]["name"] == "probabilities", f"output name {oo.name}")
    check(oo.type == "tensor(float)", f"output type {oo.type}")
    check(list(oo.shape[1:]) == [len(labels)], f"output shape {oo.shape}")

    rng = np.random.default_rng(0)
    for b in (1, 3, 64):
        x = rng.integers(0, 256, (b, height, width, 3), dtype=np.uint8)
        p = sess.run(["probabilities"], {"image": x})[0]
        check(p.shape == (b, len(labels)) and np.allclose(p.sum(1), 1, atol=1e-5), f"batch {b}: shape {p.shape}, rows sum to 1")
    res["dynamic_batch_checked"] = [1, 3, 64]

    if os.path.exists(args.reference):
        z = np.load(args.reference)
        p = sess.run(["probabilities"], {"image": z["image"]})[0]
        d = float(np.abs(p - z["probabilities"]).max())
        agree = float((p.argmax(1) == z["probabilities"].argmax(1)).mean())
        check(d < args.tol and agree == 1.0, f"{len(p)} reference pictures: max |onnxruntime - torch| = {d:.2e}, "
                                             f"argmax agreement {agree:.3f}")
        res["max_abs_diff_vs_torch"] = d
        res["argmax_agreement_vs_torch"] = agree
        res["reference_pictures"] = int(len(p))
    else:
        print(f"(no torch reference at {args.reference}: skipped the torch comparison)")

    samples = manifest.get("samples", {}).get("files", [])
    sdir = os.path.normpath(os.path.join(args.model_dir, manifest.get("samples", {}).get("folder", "../samples")))
    sres = []
    for s in samples:
        x = load_image(os.path.join(sdir, s["file"]), width)[None]
        p = sess.run(["probabilities"], {"image": x})[0][0]
        pred = labels[int(p.argmax())]
        check(pred == s["label"], f"sample {s['file']}: label {s['label']}, predicted {pred} "
                                  f"({', '.join(f'{labels[i]} {p[i]:.4f}' for i in range(len(labels)))})")
        sres.append(dict(file=s["file"], label=s["label"], predicted=pred,
                         probabilities={labels[i]: round(float(p[i]), 4) for i in range(len(labels))}))
    res["samples"] = sres

    if args.synthetic_count:
        import generate
        X, y, _, _ = generate.generate_arrays(args.synthetic_count, args.synthetic_seed, width)
        preds = []
        for i in range(0, len(X), 256):
            preds.append(sess.run(["probabilities"], {"image": X[i:i + 256]})[0].argmax(1))
        acc = float((np.concatenate(preds) == y).mean())
        print(f"onnxruntime accuracy on {len(y)} synthetic pictures (seed {args.synthetic_seed}): {acc:.4f}")
        res["synthetic_accuracy"] = dict(seed=args.synthetic_seed, count=int(len(y)), accuracy=round(acc, 4))

    res["passed"] = ok
    if args.update_manifest:
        manifest.setdefault("verification", {})["onnxruntime_python"] = res
        with open(mpath, "w") as f:
            json.dump(manifest, f, indent=2)
            f.write("\n")
        exe = os.path.join(REPO, "node_modules", ".bin", "prettier")
        if os.path.exists(exe):
            os.system(f"'{exe}' --log-level warn --write '{mpath}'")
        print(f"updated {mpath}")
        try:  # rebuild the model card from the updated manifest (needs train.py's imports: torch)
            from train import model_card
            cpath = os.path.join(args.model_dir, "MODEL_CARD.md")
            with open(cpath, "w") as f:
                f.write(model_card(manifest))
            if os.path.exists(exe):
                os.system(f"'{exe}' --log-level warn --write '{cpath}'")
            print(f"updated {cpath}")
        except ImportError as e:
            print(f"(MODEL_CARD.md not rebuilt: {e})")
    print("PASSED" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
