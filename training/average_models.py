#!/usr/bin/env python3
"""Average the weights of exported bottle-state models of one graph (a "model soup"), then recalibrate.

Runs fine-tuned from the same pretrained weights stay close enough that the mean of their weights is itself
a good model, often better than each on pictures unlike the training data. Every initializer of the output is
the mean of the models' (they must have the same graph); the temperature is fitted again on validation (the
averaged logits are smaller), the certainty threshold chosen again, and every test set scored again. Scoring
runs the averaged graph in onnxruntime-node (score_onnx.mjs), the service's runtime. The manifest is the
--base model's with the new weights, calibration and figures, and names the models averaged.

  /usr/bin/python3 training/average_models.py --models A_DIR B_DIR --base B_DIR --out models/bottle-state/3 \
      --more-kinds --val-count 1500 --test-count 1000 --extra-val DIR --eval-set NAME=DIR ...
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shlex
import subprocess
import sys

import numpy as np
import onnx
from onnx import numpy_helper

import train_v3
import v3data

HERE = os.path.dirname(os.path.abspath(__file__))
INV_T = "inv_t"  # the graph's 1 / temperature, multiplied into the logits before the softmax


def average(dirs: list[str]) -> onnx.ModelProto:
    models = [onnx.load(os.path.join(d, "model.onnx")) for d in dirs]
    others = [{i.name: numpy_helper.to_array(i) for i in m.graph.initializer} for m in models[1:]]
    out = models[0]
    for init in out.graph.initializer:
        first = numpy_helper.to_array(init)
        rest = [o.get(init.name) for o in others]
        if any(r is None or r.shape != first.shape for r in rest):
            raise SystemExit(f"{init.name}: the models do not share one graph")
        mean = np.mean([first, *rest], axis=0).astype(first.dtype)
        init.CopyFrom(numpy_helper.from_array(mean, init.name))
    return out


def set_temperature(model: onnx.ModelProto, temperature: float) -> None:
    init = next(i for i in model.graph.initializer if i.name == INV_T)
    init.CopyFrom(numpy_helper.from_array(np.array(1.0 / temperature, np.float32), INV_T))


def log_probabilities(model_path: str, X: np.ndarray, workdir: str, size: int) -> np.ndarray:
    """log softmax of the graph's logits (its temperature must be 1)."""
    pictures, scores = os.path.join(workdir, "soup_in.bin"), os.path.join(workdir, "soup_out.f32")
    np.ascontiguousarray(X, np.uint8).tofile(pictures)
    subprocess.run(["node", os.path.join(HERE, "score_onnx.mjs"), model_path, pictures, str(size), scores], check=True)
    p = np.fromfile(scores, np.float32).reshape(-1, 2).astype(np.float64)
    return np.log(np.clip(p, 1e-12, 1.0))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", required=True, help="model folders (manifest.json + model.onnx)")
    ap.add_argument("--base", required=True, help="the model folder whose manifest the output starts from")
    ap.add_argument("--out", required=True)
    ap.add_argument("--size", type=int, default=158)
    ap.add_argument("--workdir", default=v3data.WORKDIR)
    ap.add_argument("--val-count", type=int, default=1500)
    ap.add_argument("--test-count", type=int, default=1000)
    ap.add_argument("--extra-val", action="append", default=[], help="validation folder (repeatable)")
    ap.add_argument("--eval-set", action="append", default=[], help="NAME=DIR reported apart (repeatable)")
    v3data.add_style_flag(ap)
    args = ap.parse_args(argv)
    v3data.use_style(args)

    model = average(args.models)
    set_temperature(model, 1.0)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "model.onnx")
    onnx.save(model, path)

    X_va, y_va, _ = v3data.load_set("val", args.size, args.workdir, args.val_count)
    extra = [v3data.load_folder(d, args.size) for d in args.extra_val]
    X_va = np.concatenate([X_va] + [X for X, _, _ in extra])
    y_va = np.concatenate([y_va] + [y for _, y, _ in extra])
    logp = log_probabilities(path, X_va, args.workdir, args.size)
    T = train_v3.fit_temperature(logp.astype(np.float32), y_va)
    threshold = train_v3.choose_threshold(y_va, train_v3.softmax(logp, T))
    print(f"temperature {T:.4f}, certainty threshold {threshold}", flush=True)
    val_metrics = train_v3.scored(y_va, logp, T, threshold)

    test_sets = [("synthetic", v3data.load_set("test_strong", args.size, args.workdir, args.test_count)[:2]),
                 ("synthetic_v2_style", v3data.load_set("test_v2style", args.size, args.workdir)[:2])]
    test_sets += [(name, v3data.load_folder(d, args.size)[:2])
                  for name, d in (spec.split("=", 1) for spec in args.eval_set)]
    base = json.load(open(os.path.join(args.base, "manifest.json")))
    tests = {}
    for name, (X, y) in test_sets:
        tests[name] = train_v3.scored(y, log_probabilities(path, X, args.workdir, args.size), T, threshold)
        if base["test_metrics"].get(name, {}).get("generator"):
            tests[name]["generator"] = base["test_metrics"][name]["generator"]
        print(f"test {name}: acc {tests[name]['accuracy']} ece {tests[name]['ece']} certain "
              f"{tests[name]['certain_fraction']} wrong&certain {tests[name]['wrong_and_certain_fraction']}", flush=True)

    set_temperature(model, T)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    data = open(path, "rb").read()
    m = base
    m.update(sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data), certainty_threshold=threshold,
             validation_metrics=val_metrics, test_metrics=tests)
    m["calibration"].update(train_v3.calibration_record(
        T, val_metrics, tests, args.val_count, [(d, len(y)) for d, (_, y, _) in zip(args.extra_val, extra)]))
    m["verification"] = {"onnx_checker": "passed", "scored_with": "onnxruntime-node (training/score_onnx.mjs)"}
    m["training"]["weight_average"] = {
        "method": "every initializer the mean of the models' (a uniform model soup); temperature refitted and "
                  "certainty threshold chosen again on the validation pictures",
        "models": [{"sha256": (mm := json.load(open(os.path.join(d, "manifest.json"))))["sha256"],
                    "trained_at": mm.get("trained_at"), "command": mm["training"]["command"]} for d in args.models],
        "command": "python3 training/average_models.py " + shlex.join(sys.argv[1:]),
        "averaged_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(m, f, indent=2)
        f.write("\n")
    with open(os.path.join(args.out, "MODEL_CARD.md"), "w") as f:
        f.write(train_v3.model_card(m))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
