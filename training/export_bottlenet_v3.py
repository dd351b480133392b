#!/usr/bin/env python3
"""Export the BottleNet that compare_bottlenet.py fine-tuned on v3's data as a servable model version, with
v3's contract: calibrated `probabilities` and the penultimate features as `embedding`, manifest (test
figures taken from compare_bottlenet.json) and model card.

  nice -n 19 /usr/bin/python3 training/export_bottlenet_v3.py --out models/bottle-state/3 \
    --extra-val /work/data/blender/val --val-count 1500
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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default=v3data.WORKDIR)
    ap.add_argument("--size", type=int, default=144)
    ap.add_argument("--val-count", type=int)
    ap.add_argument("--extra-val", action="append", default=[])
    ap.add_argument("--out", default=os.path.join(REPO, "models", "bottle-state", "3"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    v2train.SIZE = args.size
    with open(os.path.join(args.workdir, "compare_bottlenet.json")) as f:
        cmp = json.load(f)
    res = cmp["bottlenet_finetuned"]
    net = v2train.BottleNet()
    net.load_state_dict(torch.load(os.path.join(args.workdir, "bottlenet_v3data.pt")))
    net.eval()
    model = BottleExported(net, res["temperature"]).eval()

    X_va, y_va, _ = v3data.load_set("val", args.size, args.workdir, args.val_count)
    for d in args.extra_val:
        X, y, _ = v3data.load_folder(d, args.size)
        X_va, y_va = np.concatenate([X_va, X]), np.concatenate([y_va, y])
    pv = predict(model, X_va)
    val_metrics = train_v3.metrics(y_va, pv, res["certainty_threshold"])
    logits_t = np.log(np.clip(pv, 1e-12, 1)) * res["temperature"]  # undo the temperature for the raw ECE
    val_metrics["ece_uncalibrated"] = round(train_v3.ece(y_va, train_v3.softmax(logits_t)), 4)

    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, "model.onnx")
    onnx_model = train_v3.export_onnx(model, onnx_path, args.size)
    ref_X = v3data.load_set("test_strong", args.size, args.workdir, v3data.CHUNK)[0][:32]
    with torch.no_grad():
        ref_p, ref_e = model(torch.from_numpy(ref_X))
    ref_X.tofile(os.path.join(args.workdir, "reference.bin"))
    with open(os.path.join(args.workdir, "reference.json"), "w") as f:
        json.dump(dict(shape=list(ref_X.shape), probabilities=ref_p.numpy().tolist(),
                       embedding=ref_e.numpy().tolist()), f)

    macs = train_v3.count_macs(model, args.size)
    ns = SimpleNamespace(size=args.size, out=args.out, cut="(none)", extra_train=["/work/data/blender/train"],
                         extra_val=args.extra_val, extra_repeat=3, epochs=res["epochs"], batch=64, lr=None,
                         lr_tail=None, weight_decay=5e-4, label_smoothing=0.0, feature_dropout=0.0, mirror=False,
                         threads=1)
    m = train_v3.build_manifest(ns, res["temperature"], res["certainty_threshold"], val_metrics, res["tests"],
                                res["history"], res["best_epoch"], macs, sum(p.numel() for p in net.parameters()),
                                onnx_path, onnx_model, 3000, 0, len(y_va), [], {},
                                dict(training=res["seconds_training"], total=cmp.get("seconds")), None)
    m["embedding"].update(shape=[None, 256], size=256,
                          description="penultimate features: global average and global max pool of the last "
                                      "128-channel feature map, concatenated (the input of the final linear layer)")
    m["normalization"] = {"mean": v2train.MEAN, "std": v2train.STD}
    m["architecture"] = {
        "family": "BottleNet (capcheck's own small CNN, v1/v2), fine-tuned from v2's weights",
        "description": "uint8 NHWC -> /255 -> (x - mean) / std -> NCHW -> 8 conv3x3-BN-ReLU blocks (4 of stride 2) "
                       "-> concat(global average pool, global max pool) = embedding (256) -> linear(256, 2) -> "
                       "/temperature -> softmax. No test-time flip (v2 had one; it would double the cost).",
        "parameters": sum(p.numel() for p in net.parameters()),
        "multiply_adds_per_picture": macs,
        "multiply_adds_counted": f"forward hooks on every Conv2d and Linear, one {args.size}x{args.size} picture",
        "pretrained": None,
        "initialised_from": "models/bottle-state/2/model.onnx (BottleNet trained from random weights on "
                            "training/generate.py pictures; BatchNorms re-created by train.py's init_from_onnx)",
    }
    n_syn = min(cmp["train_pictures"], 3000)
    m["training"]["data"]["synthetic"]["train"]["count"] = n_syn
    m["training"]["data"]["extra_train"]["pictures"] = (cmp["train_pictures"] - n_syn) // 3
    m["training"]["train_pictures_per_epoch"] = cmp["train_pictures"]
    m["training"]["lr"] = 1e-3
    m["training"]["augmentation"] = "random mirror, shift up to 9 px, brightness/contrast jitter (train.py)"
    m["training"]["command"] = ("python3 training/compare_bottlenet.py --skip-shipped --no-flip-tta --epochs 4 "
                                "--train-count 3000 --val-count 1500 --test-count 1000 --extra-train "
                                "/work/data/blender/train --extra-val /work/data/blender/val --eval-set ... && "
                                "python3 training/export_bottlenet_v3.py " + " ".join(sys.argv[1:]))
    m["calibration"]["fitted_on"] = f"validation: {len(y_va)} pictures (synthetic seed 12 + {args.extra_val})"
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(m, f, indent=2)
        f.write("\n")
    with open(os.path.join(args.out, "MODEL_CARD.md"), "w") as f:
        f.write(train_v3.model_card(m))
    v2train.try_prettier([os.path.join(args.out, "manifest.json"), os.path.join(args.out, "MODEL_CARD.md")])
    print(f"wrote {args.out}: {macs} multiply-adds, val acc {val_metrics['accuracy']}")


if __name__ == "__main__":
    main()
