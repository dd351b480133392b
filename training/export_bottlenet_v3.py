#!/usr/bin/env python3
"""Export the BottleNet that compare_bottlenet.py fine-tuned on v3's data as a servable model version, with
v3's contract: calibrated `probabilities` and the penultimate features as `embedding`, manifest (test
figures taken from compare_bottlenet.json) and model card.

  nice -n 19 /usr/bin/python3 training/export_bottlenet_v3.py --out models/bottle-state/3 \
    --extra-val /tmp/capcheck-data/blender/val --val-count 1500
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import train as v2train  # noqa: E402
import train_v3  # noqa: E402
import v3data  # noqa: E402

REPO = os.path.dirname(HERE)


class BottleExported(nn.Module):
    """uint8 NHWC -> (calibrated probabilities [N,2], embedding [N,256] = global average + max pool)."""

    def __init__(self, net: v2train.BottleNet, temperature: float):
        super().__init__()
        self.pre = v2train.Preprocess()
        self.net = net
        self.register_buffer("inv_t", torch.tensor(1.0 / float(temperature)))

    def forward(self, image):
        f = self.net.trunk(self.pre(image))[0]
        emb = torch.cat([f.mean(dim=(2, 3)), f.amax(dim=(2, 3))], dim=1)
        return torch.softmax(self.net.fc(emb) * self.inv_t, dim=1), emb


def predict(model, X, batch=128):
    out = []
    with torch.no_grad():
        for a in range(0, len(X), batch):
            out.append(model(torch.from_numpy(np.ascontiguousarray(X[a : a + batch])))[0].numpy())
    return np.concatenate(out)


def load_net(path):
    """BottleNet weights: compare_bottlenet.py's bottlenet_v3data.pt, or train.py's best-so-far.pt (whole model)."""
    state = torch.load(path)
    if any(k.startswith("net.") for k in state):
        state = {k[4:]: v for k, v in state.items() if k.startswith("net.")}
    net = v2train.BottleNet()
    net.load_state_dict(state)
    return net.eval()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    v3data.add_style_flag(ap)
    ap.add_argument("--workdir", default=v3data.WORKDIR)
    ap.add_argument("--weights", help="default: WORKDIR/bottlenet_v3data.pt")
    ap.add_argument("--epochs-done", type=int, help="for the manifest: epochs behind --weights")
    ap.add_argument("--size", type=int, default=144)
    ap.add_argument("--val-count", type=int)
    ap.add_argument("--test-count", type=int)
    ap.add_argument("--train-count", type=int, default=3000)
    ap.add_argument("--extra-train", action="append", default=[])
    ap.add_argument("--extra-val", action="append", default=[])
    ap.add_argument("--eval-set", action="append", default=[], help="NAME=DIR")
    ap.add_argument("--eval-generator", action="append", default=[], help="NAME=TEXT")
    ap.add_argument("--out", default=os.path.join(REPO, "models", "bottle-state", "3"))
    ap.add_argument("--initialised-from", default="models/bottle-state/2/model.onnx, v2's weights (BottleNet trained "
                    "from random weights on training/generate.py pictures; BatchNorms re-created by train.py's "
                    "init_from_onnx)", help="for the manifest: what the fine-tuning started from")
    args = ap.parse_args(argv)
    v3data.use_style(args)
    torch.set_num_threads(1)
    v2train.SIZE = args.size
    net = load_net(args.weights or os.path.join(args.workdir, "bottlenet_v3data.pt"))
    raw = BottleExported(net, 1.0).eval()

    X_va, y_va, _ = v3data.load_set("val", args.size, args.workdir, args.val_count)
    n_extra_va = 0
    for d in args.extra_val:
        X, y, _ = v3data.load_folder(d, args.size)
        X_va, y_va = np.concatenate([X_va, X]), np.concatenate([y_va, y])
        n_extra_va += len(y)
    lv = np.log(np.clip(predict(raw, X_va), 1e-12, 1))  # log-softmax: softmax(lv / T) == softmax(logits / T)
    T = train_v3.fit_temperature(lv, y_va)
    threshold = train_v3.choose_threshold(y_va, train_v3.softmax(lv, T))
    val_metrics = train_v3.metrics(y_va, train_v3.softmax(lv, T), threshold)
    val_metrics["ece_uncalibrated"] = round(train_v3.ece(y_va, train_v3.softmax(lv)), 4)
    print(f"temperature {T:.3f}, threshold {threshold}, validation {val_metrics['accuracy']}", flush=True)
    model = BottleExported(net, T).eval()

    tests = {}
    sets = [("synthetic", v3data.load_set("test_strong", args.size, args.workdir, args.test_count)[:2]),
            ("synthetic_v2_style", v3data.load_set("test_v2style", args.size, args.workdir)[:2])]
    sets += [(n, v3data.load_folder(d, args.size)[:2]) for n, d in (s.split("=", 1) for s in args.eval_set)]
    for name, (X, y) in sets:
        lt = np.log(np.clip(predict(raw, X), 1e-12, 1))
        m = train_v3.metrics(y, train_v3.softmax(lt, T), threshold)
        m["ece_uncalibrated"] = round(train_v3.ece(y, train_v3.softmax(lt)), 4)
        tests[name] = m
        print(f"test {name}: acc {m['accuracy']} ece {m['ece_uncalibrated']} -> {m['ece']} certain "
              f"{m['certain_fraction']} wrong&certain {m['wrong_and_certain_fraction']}", flush=True)

    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, "model.onnx")
    onnx_model = train_v3.export_onnx(model, onnx_path, args.size)
    train_v3.save_reference(model, sets[0][1][0][:32], args.workdir)

    macs = train_v3.count_macs(model, args.size)
    n_extra_tr = sum(len(v3data.load_folder(d, args.size)[1]) for d in args.extra_train)
    ns = SimpleNamespace(size=args.size, out=args.out, cut="(none)", extra_train=args.extra_train,
                         extra_val=args.extra_val, extra_repeat=3, epochs=args.epochs_done, batch=64, lr=1e-3,
                         lr_tail=None, weight_decay=5e-4, label_smoothing=0.0, feature_dropout=0.0, mirror=False,
                         threads=1)
    generators = dict(s.split("=", 1) for s in args.eval_generator)
    n_params = sum(p.numel() for p in net.parameters())
    m = train_v3.build_manifest(ns, T, threshold, val_metrics, tests, [], None, macs, n_params, onnx_path,
                                onnx_model, args.train_count, n_extra_tr, len(y_va) - n_extra_va,
                                [(None, np.zeros(n_extra_va))], generators, {}, None)
    m["embedding"].update(shape=[None, 256], size=256,
                          description="penultimate features: global average and global max pool of the last "
                                      "128-channel feature map, concatenated (the input of the final linear layer)")
    m["normalization"] = {"mean": v2train.MEAN, "std": v2train.STD,
                          "note": "inside the graph: (x / 255 - mean) / std, then NHWC to NCHW"}
    m["architecture"] = {
        "family": "BottleNet (capcheck's own small CNN of v1/v2), fine-tuned from its earlier weights",
        "description": "uint8 NHWC -> /255 -> (x - mean) / std -> NCHW -> 8 conv3x3-BN-ReLU blocks (4 of stride 2) "
                       "-> concat(global average pool, global max pool) = embedding (256) -> linear(256, 2) -> "
                       "/temperature -> softmax. No test-time flip (v2 had one; it would double the cost).",
        "parameters": n_params,
        "multiply_adds_per_picture": macs,
        "multiply_adds_counted": f"forward hooks on every Conv2d and Linear, one {args.size}x{args.size} picture",
        "pretrained": None,
        "initialised_from": args.initialised_from,
        "compared_with": "nsfwjs@4.4.0's MobileNetV2 (ImageNet features, MIT), ported by training/port_mobilenet.py "
                         "and fine-tuned on the same data: it generalised worse here, see training/README.md",
    }
    m["training"].pop("history", None)
    m["training"].pop("seconds", None)
    m["training"]["augmentation"] = "random mirror, shift up to 9 px, brightness/contrast jitter (train.py)"
    m["training"]["command"] = ("python3 training/compare_bottlenet.py ... && python3 training/export_bottlenet_v3.py "
                                + " ".join(sys.argv[1:]))
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(m, f, indent=2)
        f.write("\n")
    with open(os.path.join(args.out, "MODEL_CARD.md"), "w") as f:
        f.write(train_v3.model_card(m))
    v2train.try_prettier([os.path.join(args.out, "manifest.json"), os.path.join(args.out, "MODEL_CARD.md")])
    print(f"wrote {args.out}: {macs} multiply-adds per picture")


if __name__ == "__main__":
    main()
