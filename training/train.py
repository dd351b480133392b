#!/usr/bin/env python3
"""Train the capcheck "bottle-state" classifier (closed / open) and export it to ONNX.

Data (one of them, or both together):
  --synthetic N      generate N pictures with generate.py (seed --seed): the first
                     (1 - --val-frac) are training data, the rest validation; a held-out
                     TEST set of --test-count pictures is generated with a DIFFERENT seed
                     (--test-seed).
  --data DIR         a folder of real photos: DIR/closed/* and DIR/open/* (jpg, png, webp,
                     bmp, ...). Split stratified into train/val/test (--val-frac,
                     --test-frac, --split-seed) unless --test-data DIR2 is given, which is
                     then the test set.

Every picture (synthetic or real) goes through the same preprocessing as serving:
  decode -> apply EXIF orientation -> flatten alpha onto white -> RGB ->
  letterbox to SxS, S = --size, default 128 (scale so the longer side is S, keep aspect ratio,
  centre, pad with black (0,0,0)) -> uint8 HWC.
Synthetic pictures are rendered at SxS, so this is the identity for them.

The exported ONNX graph contains the rest of the preprocessing:
  input  "image"          uint8  [batch,S,S,3]      (NHWC, RGB, 0..255)
  -> Cast float -> /255 -> (x - mean) / std -> transpose NCHW -> CNN -> Softmax
  output "probabilities"  float32 [batch,2]         (index 0 = "closed", 1 = "open")

Outputs: --out DIR/model.onnx, manifest.json, MODEL_CARD.md; checkpoint and caches under
--workdir (default /tmp/capcheck-train). See training/README.md for the exact commands.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time

import numpy as np
from PIL import Image

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import generate  # noqa: E402
from preprocess import letterbox  # noqa: E402

LABELS = list(generate.LABELS)  # ["closed", "open"]
SIZE = 128
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")
REPO = os.path.dirname(HERE)


def preprocessing_text(size):
    return (
        "Decode the picture, apply its EXIF orientation, flatten any alpha channel onto white, "
        f"convert to 8-bit sRGB with 3 channels, then letterbox to {size}x{size}: scale so the longer side "
        f"is {size} px keeping the aspect ratio (Lanczos), centre it and pad the rest with black (0,0,0) "
        "(sharp: fit 'contain', position 'centre', background black). Feed the raw RGB bytes, "
        f"row-major HWC, as uint8 [1,{size},{size},3]. Do NOT normalise: the graph does it."
    )


def sharp_snippet(size):
    return (
        "await sharp(buf).rotate().flatten({ background: '#ffffff' })"
        f".resize({size}, {size}, {{ fit: 'contain', position: 'centre', background: {{ r: 0, g: 0, b: 0 }} }})"
        ".removeAlpha().toColourspace('srgb').raw().toBuffer()"
    )


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------

def load_folder(root):
    files, labels = [], []
    for li, lab in enumerate(LABELS):
        d = os.path.join(root, lab)
        if not os.path.isdir(d):
            raise SystemExit(f"{root} must contain the sub-folders {LABELS}; missing {d}")
        for dirpath, _dirs, names in os.walk(d):
            for n in sorted(names):
                if n.lower().endswith(IMAGE_EXTS):
                    files.append(os.path.join(dirpath, n))
                    labels.append(li)
    X = np.empty((len(files), SIZE, SIZE, 3), np.uint8)
    keep = []
    for i, f in enumerate(files):
        try:
            with Image.open(f) as im:
                X[i] = letterbox(im, SIZE)
            keep.append(i)
        except Exception as e:  # unreadable file: skip, but say so
            print(f"  skipping {f}: {e}")
    keep = np.asarray(keep, np.int64)
    return X[keep], np.asarray(labels, np.int64)[keep], [files[i] for i in keep]


def stratified_split(y, fracs, seed):
    """Split indices into len(fracs)+1 parts per class; fracs are the sizes of the later parts."""
    rng = np.random.default_rng(seed)
    parts = [[] for _ in range(len(fracs) + 1)]
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n = len(idx)
        start = n
        bounds = []
        for f in reversed(fracs):
            k = max(1, int(round(n * f))) if n >= 3 else 0
            bounds.append((start - k, start))
            start -= k
        parts[0].extend(idx[:start])
        for j, (a, b) in enumerate(reversed(bounds)):
            parts[j + 1].extend(idx[a:b])
    return [np.sort(np.asarray(p, np.int64)) for p in parts]


def _generate_chunk(job):
    seed, start, count, size = job
    return generate.generate_arrays(count, seed, size, start=start)


def synthetic(count, seed, workdir, start=0, workers=1):
    """Generated pictures, cached in workdir (keyed by generator source hash). Picture i depends only on
    (seed, i), so `workers` processes rendering chunks give the same arrays as one."""
    with open(generate.__file__, "rb") as f:
        ghash = hashlib.sha256(f.read()).hexdigest()[:12]
    path = os.path.join(workdir, f"synth_s{seed}_i{start}_n{count}_{SIZE}_{ghash}.npz")
    if os.path.exists(path):
        z = np.load(path, allow_pickle=False)
        metas = json.loads(str(z["metas"]))
        print(f"  loaded cached {path}")
        return z["X"], z["y"], metas, z["tops"]
    t0 = time.time()
    chunk = 250
    if workers > 1 and count >= 2 * chunk:
        import multiprocessing as mp
        jobs = [(seed, start + a, min(chunk, count - a), SIZE) for a in range(0, count, chunk)]
        parts = []
        with mp.get_context("fork").Pool(workers) as pool:
            for k, part in enumerate(pool.imap(_generate_chunk, jobs)):
                parts.append(part)
                if (k + 1) % 4 == 0:
                    print(f"  generated {min(count, (k + 1) * chunk)}/{count} (seed {seed}, {workers} processes) "
                          f"in {time.time() - t0:.0f}s", flush=True)
        X = np.concatenate([p[0] for p in parts])
        y = np.concatenate([p[1] for p in parts])
        metas = [m for p in parts for m in p[2]]
        tops = np.concatenate([p[3] for p in parts])
    else:
        X, y, metas, tops = generate.generate_arrays(count, seed, SIZE, progress=True, start=start)
    print(f"  generated {count} pictures (seed {seed}) in {time.time() - t0:.0f}s")
    os.makedirs(workdir, exist_ok=True)
    np.savez(path + ".part.npz", X=X, y=y, metas=json.dumps(metas), tops=tops)
    os.replace(path + ".part.npz", path)  # a run that starts meanwhile never reads half a file
    return X, y, metas, tops


# --------------------------------------------------------------------------
# model
# --------------------------------------------------------------------------

WIDTHS = (16, 32, 48, 48, 80, 80, 128, 128)
STRIDES = (2, 1, 2, 1, 2, 1, 2, 1)


def conv_bn(i, o, stride=1):
    return [nn.Conv2d(i, o, 3, stride, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]


class ResBlock(nn.Module):
    """x -> relu(x + bn(conv(relu(bn(conv(x)))))). The last BN starts at zero (gamma = beta = 0), so a
    freshly added block is the identity on the non-negative (post-ReLU) input: blocks can be added to a
    trained net without changing what it computes, and then learn (--res-blocks)."""

    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(*conv_bn(c, c), nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c))
        nn.init.zeros_(self.body[4].weight)
        nn.init.zeros_(self.body[4].bias)

    def forward(self, x):
        return F.relu(x + self.body(x))


class BottleNet(nn.Module):
    """Small plain CNN: 8 conv3x3-BN-ReLU blocks (4 of stride 2, 128 -> 8x8), global average + global
    max pooling (concatenated), linear -> 2 logits. Optionally `res_blocks[k]` residual blocks after
    the k-th resolution stage (64x64, 32x32, 16x16, 8x8), see ResBlock.

    Training only: a 1x1-conv "top" head on the 8x8 feature map predicts for every cell whether it
    holds the closure of the labelled bottle, its open lip, or neither (auxiliary target from the
    generator). It tells the network where to look; it is not part of the exported graph.
    """

    def __init__(self, widths=WIDTHS, strides=STRIDES, dropout=0.2, res_blocks=(0, 0, 0, 0)):
        super().__init__()
        layers, c = [], 3
        for w, s in zip(widths, strides):
            layers += conv_bn(c, w, s)
            c = w
        split = 3 * 6  # after the 6th block (stride 8, 16x16)
        self.features = nn.Sequential(*layers[:split])
        self.features2 = nn.Sequential(*layers[split:])
        self.res_blocks = tuple(int(r) for r in res_blocks)
        # stage k ends after conv block 2k+1; its residual blocks run there
        self.res = nn.ModuleList(nn.Sequential(*[ResBlock(widths[2 * k + 1]) for _ in range(r)])
                                 for k, r in enumerate(self.res_blocks))
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(2 * c, len(LABELS))
        self.top_head = nn.Conv2d(c, 1 + len(LABELS), 1)  # 8x8 cells of 16 px
        self.top_head8 = nn.Conv2d(widths[5], 1 + len(LABELS), 1)  # 16x16 cells of 8 px
        self.strides = (int(np.prod(strides)), int(np.prod(strides[:6])))

    def conv_blocks(self):
        """The 8 (conv, bn) pairs in order."""
        mods = list(self.features) + list(self.features2)
        return [(mods[3 * b], mods[3 * b + 1]) for b in range(len(mods) // 3)]

    def trunk(self, x):
        """-> (8x8 features, 16x16 features)."""
        mods = list(self.features) + list(self.features2)
        f16 = None
        for b in range(len(mods) // 3):
            for m in mods[3 * b:3 * b + 3]:
                x = m(x)
            if b % 2 == 1 and self.res_blocks[b // 2]:
                x = self.res[b // 2](x)
            if b == 5:
                f16 = x
        return x, f16

    def head(self, f):
        pooled = torch.cat([f.mean(dim=(2, 3)), f.amax(dim=(2, 3))], dim=1)
        return self.fc(self.drop(pooled))

    def forward(self, x):  # x: float NCHW, normalised
        return self.head(self.trunk(x)[0])

    def forward_train(self, x):
        f, f8 = self.trunk(x)
        return self.head(f), [(self.top_head(f), self.strides[0]), (self.top_head8(f8), self.strides[1])]


@torch.no_grad()
def init_from_onnx(net: "BottleNet", path, X_calib: np.ndarray):
    """Load the weights of an exported model.onnx (this script's graph, whose BatchNorms the exporter
    folded into the convolutions) into `net` so that it computes the same function, with trainable
    BatchNorms again: for each conv, in order, the folded weight W' is rescaled so its output on the
    calibration pictures has unit variance per channel, and the BatchNorm after it gets those
    statistics as running mean/var and gamma/beta such that BN(W x) == W' x + b' (exact in eval mode).
    Residual blocks (--res-blocks) start as the identity. Returns the max abs difference between
    the folded graph's logits (recomputed here) and the net's on the calibration pictures."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(path)
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    convs = [n for n in m.graph.node if n.op_type == "Conv"]
    pairs = net.conv_blocks()
    convs = convs[:len(pairs)]  # the un-mirrored branch comes first; the mirrored one shares the weights
    net.eval()
    x = Preprocess()(torch.from_numpy(np.ascontiguousarray(X_calib)))
    ref = x
    for b, ((conv, bn), node) in enumerate(zip(pairs, convs)):
        w = torch.from_numpy(inits[node.input[1]].copy())
        bias = torch.from_numpy(inits[node.input[2]].copy())
        if w.shape != conv.weight.shape:
            raise SystemExit(f"{path}: conv {b} has shape {tuple(w.shape)}, the net wants {tuple(conv.weight.shape)}")
        ref = F.relu(F.conv2d(ref, w, bias, conv.stride, conv.padding))
        z = F.conv2d(x, w, None, conv.stride, conv.padding)
        s = z.std(dim=(0, 2, 3), unbiased=False).clamp_min(1e-3)
        conv.weight.copy_(w / s.view(-1, 1, 1, 1))
        zn = z / s.view(1, -1, 1, 1)
        mu, var = zn.mean(dim=(0, 2, 3)), zn.var(dim=(0, 2, 3), unbiased=False)
        bn.running_mean.copy_(mu)
        bn.running_var.copy_(var)
        bn.weight.copy_(s * torch.sqrt(var + bn.eps))
        bn.bias.copy_(mu * s + bias)
        x = F.relu(bn(zn))
    net.fc.weight.copy_(torch.from_numpy(inits["net.fc.weight"].copy()))
    net.fc.bias.copy_(torch.from_numpy(inits["net.fc.bias"].copy()))
    want = torch.cat([ref.mean(dim=(2, 3)), ref.amax(dim=(2, 3))], 1) @ net.fc.weight.t() + net.fc.bias
    got = net(Preprocess()(torch.from_numpy(np.ascontiguousarray(X_calib))))
    return float((want - got).abs().max())


class Preprocess(nn.Module):
    """NHWC 0..255 (uint8 or float) -> normalised float NCHW. Exported inside the ONNX graph."""

    def __init__(self, mean=MEAN, std=STD):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 1, 1, 3))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 1, 1, 3))

    def forward(self, x):
        x = x.to(torch.float32) / 255.0
        x = (x - self.mean) / self.std
        return x.permute(0, 3, 1, 2)


class Exported(nn.Module):
    """uint8 NHWC image -> probabilities. With flip_tta the probabilities are the mean of the picture
    and its mirror image (left-right), which is part of the exported graph."""

    def __init__(self, net, flip_tta=True):
        super().__init__()
        self.pre = Preprocess()
        self.net = net
        self.flip_tta = flip_tta

    def forward(self, image):
        x = self.pre(image)
        p = torch.softmax(self.net(x), dim=1)
        if self.flip_tta:
            p = 0.5 * (p + torch.softmax(self.net(torch.flip(x, dims=[3])), dim=1))
        return p


# --------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------

def augment(xb: torch.Tensor, tb: torch.Tensor, gen: torch.Generator, strength: float):
    """xb: uint8 NHWC, tb: uint8 top maps NHW -> (float NHWC 0..255, top maps) with flips, shifts
    (the same for picture and map) and light photometric jitter."""
    x = torch.cat([xb.to(torch.float32), tb.to(torch.float32).unsqueeze(-1)], dim=-1)
    n = x.shape[0]
    flip = torch.rand(n, generator=gen) < 0.5
    x[flip] = x[flip].flip(2)
    pad = SIZE // 16  # 8 px at 128
    xp = F.pad(x.permute(0, 3, 1, 2), (pad, pad, pad, pad), mode="replicate")
    offs = torch.randint(0, 2 * pad + 1, (n, 2), generator=gen)
    x = torch.stack([xp[i, :, offs[i, 0]:offs[i, 0] + SIZE, offs[i, 1]:offs[i, 1] + SIZE] for i in range(n)])
    x = x.permute(0, 2, 3, 1)
    x, t = x[..., :3].contiguous(), x[..., 3].round().to(torch.uint8)
    if strength > 0:
        b = 1 + (torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * 0.4 * strength
        c = 1 + (torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * 0.4 * strength
        m = x.mean(dim=(1, 2, 3), keepdim=True)
        x = ((x - m) * c + m) * b
    return x.clamp_(0, 255), t


def top_targets(t: torch.Tensor, stride: int) -> torch.Tensor:
    """Top maps [N,128,128] (0 / 1 closed top / 2 open top / 255 don't care) -> cell targets [N,8,8]."""
    def anyp(m):
        return F.max_pool2d(m.to(torch.float32).unsqueeze(1), stride).squeeze(1) > 0

    out = torch.zeros(t.shape[0], t.shape[1] // stride, t.shape[2] // stride, dtype=torch.long)
    out[anyp(t == 255)] = 255
    out[anyp(t == 1)] = 1
    out[anyp(t == 2)] = 2
    return out


@torch.no_grad()
def predict(model: Exported, X: np.ndarray, batch=256) -> np.ndarray:
    model.eval()
    out = []
    for i in range(0, len(X), batch):
        out.append(model(torch.from_numpy(np.ascontiguousarray(X[i:i + batch]).copy())).numpy())
    return np.concatenate(out) if out else np.zeros((0, len(LABELS)), np.float32)


def metrics(y, probs):
    pred = probs.argmax(1)
    k = len(LABELS)
    cm = np.zeros((k, k), np.int64)
    for t, p in zip(y, pred):
        cm[t, p] += 1
    per = {}
    for i, lab in enumerate(LABELS):
        tp = cm[i, i]
        prec = tp / cm[:, i].sum() if cm[:, i].sum() else 0.0
        rec = tp / cm[i, :].sum() if cm[i, :].sum() else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per[lab] = dict(precision=round(float(prec), 4), recall=round(float(rec), 4), f1=round(float(f1), 4),
                        support=int(cm[i, :].sum()))
    nll = float(-np.log(np.clip(probs[np.arange(len(y)), y], 1e-7, 1)).mean()) if len(y) else 0.0
    return dict(count=int(len(y)), accuracy=round(float((pred == y).mean()) if len(y) else 0.0, 4),
                log_loss=round(nll, 4), per_class=per,
                confusion_matrix=dict(rows="true label", columns="predicted label", labels=LABELS,
                                      matrix=cm.tolist()))


def format_metrics(name, m):
    lines = [f"{name}: n={m['count']} accuracy={m['accuracy']:.4f} log_loss={m['log_loss']:.4f}"]
    for lab, v in m["per_class"].items():
        lines.append(f"  {lab:6s} precision={v['precision']:.4f} recall={v['recall']:.4f} "
                     f"f1={v['f1']:.4f} support={v['support']}")
    cm = m["confusion_matrix"]["matrix"]
    lines.append("  confusion (rows=true, cols=pred " + "/".join(LABELS) + "): " + str(cm))
    return "\n".join(lines)


def scenario_accuracy(y, probs, metas):
    pred = probs.argmax(1)
    out = {}
    keys = ["loose_cap", "multi", "occluded", "closeup", "letterbox"]
    for k in keys:
        m = np.asarray([bool(mm.get(k)) for mm in metas])
        if m.any():
            out[k] = dict(count=int(m.sum()), accuracy=round(float((pred[m] == y[m]).mean()), 4))
    plain = np.asarray([not any(mm.get(k) for k in keys) for mm in metas])
    if plain.any():
        out["plain"] = dict(count=int(plain.sum()), accuracy=round(float((pred[plain] == y[plain]).mean()), 4))
    for field in ("kind", "glass", "closure"):
        vals = sorted({str(mm.get(field)) for mm in metas})
        for v in vals:
            m = np.asarray([str(mm.get(field)) == v for mm in metas])
            out[f"{field}={v}"] = dict(count=int(m.sum()), accuracy=round(float((pred[m] == y[m]).mean()), 4))
    return out


def train(model: Exported, Xtr, ytr, Ttr, Xva, yva, args):
    gen = torch.Generator().manual_seed(args.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    steps_per_epoch = (len(Xtr) + args.batch - 1) // args.batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch,
                                                pct_start=0.15)
    ytr_t = torch.from_numpy(ytr)
    Xtr_t = torch.from_numpy(Xtr)
    Ttr_t = torch.from_numpy(Ttr)
    top_w = torch.tensor([args.top_bg_weight] + [1.0] * len(LABELS))
    best = (-1.0, float("inf"), None, -1)
    history = []
    if args.init_onnx and len(yva):
        # epoch 0 = the starting (recovered) weights: they stay the choice unless an epoch beats them on validation
        t0 = time.time()
        vm = metrics(yva, predict(model, Xva))
        history.append(dict(epoch=0, val_acc=vm["accuracy"], val_loss=vm["log_loss"], seconds=round(time.time() - t0, 1)))
        print(f"epoch  0 (starting weights) val_acc {vm['accuracy']:.4f} val_loss {vm['log_loss']:.4f}", flush=True)
        best = (vm["accuracy"], vm["log_loss"], {k: v.clone() for k, v in model.state_dict().items()}, 0)
    for ep in range(args.epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(len(Xtr), generator=gen)
        tot, correct, loss_sum = 0, 0, 0.0
        for s in range(steps_per_epoch):
            idx = perm[s * args.batch:(s + 1) * args.batch]
            xb, tb = augment(Xtr_t[idx], Ttr_t[idx], gen, args.jitter)
            yb = ytr_t[idx]
            logits, tops = model.net.forward_train(model.pre(xb))
            loss = F.cross_entropy(logits, yb, label_smoothing=args.label_smoothing)
            if args.top_weight > 0:
                for top_logits, stride in tops:
                    tt = top_targets(tb, stride)
                    if bool((tt != 255).any()):
                        loss = loss + 0.5 * args.top_weight * F.cross_entropy(top_logits, tt, weight=top_w,
                                                                              ignore_index=255)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += float(loss) * len(idx)
            correct += int((logits.argmax(1) == yb).sum())
            tot += len(idx)
            if (s + 1) % 50 == 0:
                print(f"  step {s + 1}/{steps_per_epoch} loss {loss_sum / tot:.4f} train_acc {correct / tot:.4f} "
                      f"({time.time() - t0:.0f}s)", flush=True)
        vm = metrics(yva, predict(model, Xva)) if len(yva) else dict(accuracy=0.0, log_loss=0.0)
        history.append(dict(epoch=ep + 1, train_loss=round(loss_sum / tot, 4), train_acc=round(correct / tot, 4),
                            val_acc=vm["accuracy"], val_loss=vm["log_loss"], seconds=round(time.time() - t0, 1)))
        print(f"epoch {ep + 1:2d}/{args.epochs} loss {loss_sum / tot:.4f} train_acc {correct / tot:.4f} "
              f"val_acc {vm['accuracy']:.4f} val_loss {vm['log_loss']:.4f} ({time.time() - t0:.0f}s)", flush=True)
        on_epoch = getattr(args, "on_epoch", None)
        if on_epoch:  # e.g. compare_bottlenet.py: keep every epoch and score it on the independent sets
            on_epoch(ep + 1, model, history[-1])
        key = (vm["accuracy"], -vm["log_loss"])
        if key >= (best[0], -best[1]):
            best = (vm["accuracy"], vm["log_loss"], {k: v.clone() for k, v in model.state_dict().items()}, ep + 1)
            torch.save(best[2], os.path.join(args.workdir, "best-so-far.pt"))  # in case the run is stopped
    model.load_state_dict(best[2])
    print(f"best epoch {best[3]} val_acc {best[0]:.4f} val_loss {best[1]:.4f}")
    return history, best[3]


# --------------------------------------------------------------------------
# export + verification
# --------------------------------------------------------------------------

def export_onnx(model: Exported, path):
    model.eval()
    dummy = torch.zeros(1, SIZE, SIZE, 3, dtype=torch.uint8)
    torch.onnx.export(model, dummy, path, input_names=["image"], output_names=["probabilities"],
                      dynamic_axes={"image": {0: "batch"}, "probabilities": {0: "batch"}},
                      opset_version=17, do_constant_folding=True)


def verify_onnx(model: Exported, path, X_ref):
    """onnx.checker + contract checks; onnxruntime comparison if it is importable."""
    import onnx
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    res = dict(onnx_checker="passed", opset=[dict(domain=o.domain or "ai.onnx", version=o.version)
                                             for o in m.opset_import])
    inp, out = m.graph.input[0], m.graph.output[0]

    def shape(v):
        return [d.dim_param if d.dim_param else d.dim_value for d in v.type.tensor_type.shape.dim]

    assert inp.name == "image" and inp.type.tensor_type.elem_type == onnx.TensorProto.UINT8, inp
    assert shape(inp)[1:] == [SIZE, SIZE, 3] and isinstance(shape(inp)[0], str), shape(inp)
    assert out.name == "probabilities" and out.type.tensor_type.elem_type == onnx.TensorProto.FLOAT, out
    assert shape(out)[1:] == [len(LABELS)], shape(out)
    res["graph_input"] = dict(name=inp.name, dtype="uint8", shape=shape(inp))
    res["graph_output"] = dict(name=out.name, dtype="float32", shape=shape(out))
    res["ops"] = sorted({n.op_type for n in m.graph.node})
    # torch determinism re-run (the same batch twice, and batch-1 vs batched)
    p1 = predict(model, X_ref)
    p2 = predict(model, X_ref)
    p_single = np.concatenate([predict(model, X_ref[i:i + 1]) for i in range(len(X_ref))])
    res["torch_rerun_max_abs_diff"] = float(np.abs(p1 - p2).max())
    res["torch_batch_vs_single_max_abs_diff"] = float(np.abs(p1 - p_single).max())
    try:
        import onnxruntime as ort  # noqa: F401
    except Exception:
        res["onnxruntime_python"] = ("not available in this interpreter: run training/verify_onnx.py with a "
                                     "python that has onnxruntime (see README)")
        return res
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    po = sess.run(["probabilities"], {"image": X_ref})[0]
    res["onnxruntime_python"] = dict(version=ort.__version__, max_abs_diff_vs_torch=float(np.abs(po - p1).max()),
                                     argmax_agreement=float((po.argmax(1) == p1.argmax(1)).mean()))
    return res


def macs(net):
    """Multiply-adds of one forward pass of the exported part (convolutions and the linear layer)."""
    total = [0]

    def hook(mod, _inp, out):
        if isinstance(mod, nn.Conv2d):
            total[0] += out.numel() * mod.in_channels // mod.groups * mod.kernel_size[0] * mod.kernel_size[1]
        elif isinstance(mod, nn.Linear):
            total[0] += mod.in_features * mod.out_features

    hs = [m.register_forward_hook(hook) for n, m in net.named_modules()
          if isinstance(m, (nn.Conv2d, nn.Linear)) and not n.startswith("top_head")]
    was = net.training
    net.eval()
    with torch.no_grad():
        net(torch.zeros(1, 3, SIZE, SIZE))
    net.train(was)
    for h in hs:
        h.remove()
    return total[0]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_samples(model, samples_dir, seed, size):
    os.makedirs(samples_dir, exist_ok=True)
    out = []
    for lab in ("closed", "open"):
        for k in range(2):
            index = k
            _img, meta, data, _top = generate.render_index(seed, index, size=size, scenario="plain", label=lab)
            name = f"{lab}-{k + 1}.jpg"
            path = os.path.join(samples_dir, name)
            with open(path, "wb") as f:
                f.write(data)
            with Image.open(path) as im:
                x = letterbox(im)[None]
            p = predict(model, x)[0]
            out.append(dict(file=name, label=lab, size=[size, size],
                            generator=f"python3 training/generate.py --one {lab} --seed {seed} --index {index} "
                                      f"--size {size} --scenario plain --out {name}",
                            kind=meta["kind"], glass=meta["glass"], closure=meta["closure"],
                            predicted=LABELS[int(p.argmax())],
                            probabilities={LABELS[i]: round(float(p[i]), 4) for i in range(len(LABELS))}))
    return out


def try_prettier(paths):
    exe = os.path.join(REPO, "node_modules", ".bin", "prettier")
    if not os.path.exists(exe):
        return
    try:
        subprocess.run([exe, "--log-level", "warn", "--write", *paths], check=False, timeout=120)
    except Exception as e:
        print(f"  (prettier not run: {e})")


def main(argv=None):
    global SIZE
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="folder with closed/ and open/ sub-folders of real pictures")
    ap.add_argument("--test-data", help="separate test folder (closed/, open/) for --data")
    ap.add_argument("--synthetic", type=int, default=0, help="number of generated train+val pictures")
    ap.add_argument("--seed", type=int, default=1, help="generator seed for synthetic train/val, and torch seed")
    ap.add_argument("--test-seed", type=int, default=2, help="generator seed of the synthetic TEST set")
    ap.add_argument("--test-count", type=int, default=2000)
    ap.add_argument("--val-frac", type=float, default=0.1)
    ap.add_argument("--test-frac", type=float, default=0.15, help="for --data without --test-data")
    ap.add_argument("--split-seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--weight-decay", type=float, default=5e-4)
    ap.add_argument("--label-smoothing", type=float, default=0.0)
    ap.add_argument("--top-weight", type=float, default=1.0,
                    help="weight of the auxiliary 'where is the bottle top' loss (synthetic data only; 0 = off)")
    ap.add_argument("--top-bg-weight", type=float, default=0.1, help="class weight of 'no top here' cells")
    ap.add_argument("--jitter", type=float, default=0.5, help="photometric augmentation strength (0 = off)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--size", type=int, default=SIZE, help="input side in pixels (pictures are letterboxed to it)")
    ap.add_argument("--gen-workers", type=int, default=1, help="processes that render synthetic pictures")
    ap.add_argument("--no-flip-tta", action="store_true",
                    help="do not average with the mirrored picture inside the exported graph")
    ap.add_argument("--init-checkpoint", help="start from this state_dict (fine-tuning)")
    ap.add_argument("--init-onnx", help="start from the weights of a model.onnx this script exported (BatchNorms "
                                        "re-created from the folded convolutions, see init_from_onnx); its "
                                        "manifest.json, if next to it, is recorded as the earlier stages")
    ap.add_argument("--res-blocks", default="0,0,0,0",
                    help="residual blocks (identity at start) after the 64x64, 32x32, 16x16 and 8x8 stages")
    ap.add_argument("--workdir", default="/tmp/capcheck-train")
    ap.add_argument("--out", default=os.path.join(REPO, "models", "bottle-state", "1"))
    ap.add_argument("--version", help="manifest version (default: the name of the --out folder)")
    ap.add_argument("--samples-dir", default=os.path.join(REPO, "models", "bottle-state", "samples"))
    ap.add_argument("--samples-seed", type=int, default=909)
    ap.add_argument("--samples-size", type=int, default=256)
    ap.add_argument("--no-samples", action="store_true")
    args = ap.parse_args(argv)
    if not args.data and not args.synthetic:
        ap.error("give --data DIR and/or --synthetic N")

    SIZE = args.size
    t_start = time.time()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.workdir, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)

    train_parts, val_parts, tests = [], [], {}
    data_desc = {}
    if args.synthetic:
        n_val = int(round(args.synthetic * args.val_frac))
        n_tr = args.synthetic - n_val
        print(f"synthetic: {n_tr} train + {n_val} val (seed {args.seed}), {args.test_count} test "
              f"(seed {args.test_seed})")
        X, y, _, tops = synthetic(args.synthetic, args.seed, args.workdir, workers=args.gen_workers)
        train_parts.append((X[:n_tr], y[:n_tr], tops[:n_tr]))
        val_parts.append((X[n_tr:], y[n_tr:]))
        Xte, yte, mte, _ = synthetic(args.test_count, args.test_seed, args.workdir, workers=args.gen_workers)
        tests["synthetic"] = (Xte, yte, mte)
        data_desc["synthetic"] = dict(
            generator="training/generate.py (numpy + PIL renderer, no external data)",
            image_size=SIZE,
            train=dict(seed=args.seed, indices=[0, n_tr - 1], count=n_tr,
                       per_class={lab: int((y[:n_tr] == i).sum()) for i, lab in enumerate(LABELS)}),
            validation=dict(seed=args.seed, indices=[n_tr, args.synthetic - 1], count=n_val),
            test=dict(seed=args.test_seed, indices=[0, args.test_count - 1], count=args.test_count,
                      per_class={lab: int((yte == i).sum()) for i, lab in enumerate(LABELS)}),
            note="image i of seed S is rendered from numpy.random.default_rng([S, i]); label = LABELS[i % 2]",
        )
    if args.data:
        print(f"real data: {args.data}")
        X, y, files = load_folder(args.data)
        if len(X) == 0:
            raise SystemExit("no pictures found")
        if args.test_data:
            tr, va = stratified_split(y, [args.val_frac], args.split_seed)
            Xt, yt, tfiles = load_folder(args.test_data)
            tests["real"] = (Xt, yt, None)
        else:
            tr, va, te = stratified_split(y, [args.val_frac, args.test_frac], args.split_seed)
            tests["real"] = (X[te], y[te], None)
        train_parts.append((X[tr], y[tr], np.full((len(tr), SIZE, SIZE), 255, np.uint8)))  # no top maps
        val_parts.append((X[va], y[va]))
        data_desc["real"] = dict(folder=os.path.abspath(args.data), files=len(files),
                                 per_class={lab: int((y == i).sum()) for i, lab in enumerate(LABELS)},
                                 split=dict(train=len(tr), validation=len(va), test=len(tests["real"][1]),
                                            split_seed=args.split_seed,
                                            test_folder=os.path.abspath(args.test_data) if args.test_data else None))
        print(f"  {len(files)} pictures: train {len(tr)} val {len(va)} test {len(tests['real'][1])}")
    Xtr = np.concatenate([p[0] for p in train_parts])
    ytr = np.concatenate([p[1] for p in train_parts])
    Ttr = np.concatenate([p[2] for p in train_parts])
    Xva = np.concatenate([p[0] for p in val_parts])
    yva = np.concatenate([p[1] for p in val_parts])
    t_data = time.time() - t_start

    res_blocks = tuple(int(v) for v in args.res_blocks.split(","))
    if len(res_blocks) != 4:
        ap.error("--res-blocks wants 4 comma-separated counts")
    net = BottleNet(res_blocks=res_blocks)
    model = Exported(net, flip_tta=not args.no_flip_tta)
    previous_stages = []
    if args.init_onnx:
        diff = init_from_onnx(net, args.init_onnx, Xtr[:512])
        print(f"initialised from {args.init_onnx} (max |logit difference| to the folded graph {diff:.2e})")
        if diff > 1e-3:
            raise SystemExit("the recovered weights do not reproduce the ONNX graph")
        side = os.path.join(os.path.dirname(os.path.abspath(args.init_onnx)), "manifest.json")
        prev = None
        if os.path.exists(side):
            with open(side) as f:
                man = json.load(f)
            if man.get("sha256") == sha256(args.init_onnx):
                prev = dict(man["training"])
                previous_stages = prev.pop("previous_stages", None) or []
                prev.pop("history", None)
                prev["test_accuracy"] = (man.get("test_metrics", {}).get("synthetic") or {}).get("accuracy")
        previous_stages = previous_stages + ([prev] if prev else []) + [dict(
            onnx=os.path.abspath(args.init_onnx), sha256=sha256(args.init_onnx),
            note="weights recovered from this ONNX file (BatchNorm re-created from the folded convolutions)"
                 + ("" if prev else "; provenance unknown"))]
    if args.init_checkpoint:
        model.load_state_dict(torch.load(args.init_checkpoint, map_location="cpu"))
        print(f"initialised from {args.init_checkpoint}")
        side = args.init_checkpoint + ".json"  # how that checkpoint was trained (written by this script)
        if os.path.exists(side):
            with open(side) as f:
                prev = json.load(f)
            previous_stages = prev.pop("previous_stages", []) + [prev]
        else:
            previous_stages = [dict(checkpoint=os.path.abspath(args.init_checkpoint),
                                    sha256=sha256(args.init_checkpoint), note="provenance unknown")]
    n_params = sum(p.numel() for n, p in net.named_parameters() if not n.startswith("top_head"))  # not exported
    n_macs = macs(net)
    print(f"model: {n_params} parameters; training on {len(Xtr)} pictures, validating on {len(Xva)}")
    t0 = time.time()
    history, best_epoch = train(model, Xtr, ytr, Ttr, Xva, yva, args)
    t_train = time.time() - t0
    ckpt = os.path.join(args.workdir, "model.pt")
    torch.save(model.state_dict(), ckpt)

    test_metrics = {}
    for name, (Xt, yt, mt) in tests.items():
        p = predict(model, Xt)
        tm = metrics(yt, p)
        if mt is not None:
            tm["by_scenario"] = scenario_accuracy(yt, p, mt)
        test_metrics[name] = tm
        print(format_metrics(f"TEST[{name}]", tm))
        if "by_scenario" in tm:
            print("  by scenario: " + ", ".join(f"{k} {v['accuracy']:.3f} (n={v['count']})"
                                                for k, v in tm["by_scenario"].items()))

    onnx_path = os.path.join(args.out, "model.onnx")
    export_onnx(model, onnx_path)
    first_test = next(iter(tests.values()))
    ref = np.ascontiguousarray(first_test[0][:64])
    verification = verify_onnx(model, onnx_path, ref)
    np.savez(os.path.join(args.workdir, "reference_batch.npz"), image=ref, probabilities=predict(model, ref),
             labels=first_test[1][:64])
    print("verification:", json.dumps(verification))

    samples = []
    if not args.no_samples:
        samples = write_samples(model, args.samples_dir, args.samples_seed, args.samples_size)
        for s in samples:
            print(f"  sample {s['file']}: label {s['label']} predicted {s['predicted']} {s['probabilities']}")

    total = time.time() - t_start
    manifest = dict(
        name="bottle-state",
        version=args.version or os.path.basename(os.path.normpath(args.out)),
        task="binary image classification: is the (centred, largest) bottle closed or open?",
        labels=LABELS,
        file="model.onnx",
        sha256=sha256(onnx_path),
        size_bytes=os.path.getsize(onnx_path),
        format=dict(type="onnx", opset=17, ir_version=None),
        input=dict(
            name="image",
            dtype="uint8",
            layout="NHWC",
            shape=[None, SIZE, SIZE, 3],
            channels="RGB",
            range="0..255 raw bytes",
            resize=dict(width=SIZE, height=SIZE, fit="contain", position="centre", background=[0, 0, 0],
                        kernel="lanczos3", description=preprocessing_text(SIZE), sharp_example=sharp_snippet(SIZE)),
        ),
        output=dict(name="probabilities", dtype="float32", shape=[None, len(LABELS)],
                    description="softmax probabilities in the order of `labels` (index 0 = closed, 1 = open); "
                                "rows sum to 1"),
        normalization=dict(mean=MEAN, std=STD, scale=1 / 255,
                           inside_graph=True,
                           description="done INSIDE the graph: x = (float(image) / 255 - mean) / std, per RGB "
                                       "channel, then NHWC -> NCHW; the caller feeds raw uint8 RGB"),
        architecture=dict(type=f"BottleNet: 8x conv3x3-BN-ReLU (widths {','.join(map(str, WIDTHS))}; strides "
                               f"{','.join(map(str, STRIDES))})" + (
                               f", plus residual blocks (2x conv3x3-BN, identity shortcut) per stage 64/32/16/8 px: "
                               f"{','.join(map(str, net.res_blocks))}" if any(net.res_blocks) else "") +
                               " -> concat(global average pool, global max pool) "
                               "-> dropout 0.2 -> linear(256, 2) -> softmax" + (", averaged with the same for the left-right mirrored "
                               "picture (test-time flip, inside the graph)" if model.flip_tta else "") + ". Training-only auxiliary heads (not "
                               "exported): 1x1 convs on the 16x16 and 8x8 maps predicting where the labelled "
                               "bottle's closure / open lip is.",
                          parameters=int(n_params), res_blocks=list(net.res_blocks),
                          multiply_adds_per_picture=int(n_macs) * (2 if model.flip_tta else 1)),
        training=dict(
            data=data_desc,
            epochs=args.epochs, best_epoch=best_epoch, batch=args.batch, optimizer="AdamW",
            lr_max=args.lr, schedule="one-cycle", weight_decay=args.weight_decay,
            label_smoothing=args.label_smoothing,
            auxiliary_top_loss=dict(weight=args.top_weight, background_class_weight=args.top_bg_weight,
                                    note="synthetic pictures only; cells of 8 px (16x16 map) and 16 px (8x8 map)"),
            augmentation=f"random horizontal flip, random shift up to {SIZE // 16} px (replicate padding), "
                         f"brightness/contrast jitter (strength {args.jitter})",
            history=history,
            seconds=dict(data=round(t_data, 1), training=round(t_train, 1), total=round(total, 1)),
            initialised_from=(dict(checkpoint=os.path.abspath(args.init_checkpoint),
                                   sha256=sha256(args.init_checkpoint)) if args.init_checkpoint else
                              dict(onnx=os.path.abspath(args.init_onnx), sha256=sha256(args.init_onnx))
                              if args.init_onnx else None),
            previous_stages=previous_stages,
            threads=args.threads,
            machine=f"{platform.machine()} {platform.processor() or ''}".strip(),
            command="python3 training/train.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        ),
        test_metrics=test_metrics,
        real_photographs_evaluated="real" in test_metrics,
        verification=verification,
        samples=dict(folder="../samples", seed=args.samples_seed,
                     note="synthetic pictures from a seed used neither for training nor for testing; "
                          f"{args.samples_size}x{args.samples_size}, so the service's letterbox step resizes them "
                          f"to {SIZE}x{SIZE}",
                     files=samples),
        trained_at=dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        torch_version=torch.__version__,
        numpy_version=np.__version__,
        python_version=platform.python_version(),
    )
    import onnx
    manifest["format"]["ir_version"] = int(onnx.load(onnx_path).ir_version)
    manifest["format"]["onnx_version"] = onnx.__version__
    stage = {k: v for k, v in manifest["training"].items() if k not in ("history", "previous_stages")}
    stage["checkpoint_sha256"] = sha256(ckpt)
    stage["validation_accuracy_best"] = max((h["val_acc"] for h in history), default=None)
    with open(ckpt + ".json", "w") as f:
        json.dump(dict(stage, previous_stages=previous_stages), f, indent=2)
    mpath = os.path.join(args.out, "manifest.json")
    with open(mpath, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    card = os.path.join(args.out, "MODEL_CARD.md")
    with open(card, "w") as f:
        f.write(model_card(manifest))
    try_prettier([mpath, card])
    print(f"wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes, sha256 {manifest['sha256']})")
    print(f"total time {total:.0f}s (data {t_data:.0f}s, training {t_train:.0f}s)")
    return 0


def model_card(m):
    tm = m["test_metrics"]
    syn = m["training"]["data"].get("synthetic")
    real = m["training"]["data"].get("real")
    size = m["input"]["shape"][1]
    lines = [f"# {m['name']} v{m['version']}: model card", ""]
    lines += ["Binary classifier for capcheck: is the bottle in the picture **closed** (crown cap, screw cap, "
              "wine screw cap or foil capsule on it) or **open** (no cap on the neck)?", ""]
    lines += ["## Files", ""]
    lines += [f"- `model.onnx`: {m['size_bytes']} bytes, sha256 `{m['sha256']}`, ONNX opset 17, "
              f"{m['architecture']['parameters']} parameters.",
              "- `manifest.json`: machine-readable contract, metrics and provenance.",
              "- `../samples/`: 2 closed and 2 open synthetic test pictures (see `samples` in the manifest).", ""]
    lines += ["## Input / output contract", ""]
    lines += [f"- Input `image`: `uint8`, NHWC, shape `[batch, {size}, {size}, 3]`, raw RGB bytes 0..255. "
              "The batch dimension is dynamic.",
              "- Output `probabilities`: `float32`, shape `[batch, 2]`, softmax in label order "
              "`[\"closed\", \"open\"]` (index 0 = closed, index 1 = open).",
              f"- Preprocessing the caller must do: {preprocessing_text(size)}",
              f"- With sharp: `{sharp_snippet(size)}`",
              f"- Normalisation is inside the graph: `(x / 255 - mean) / std` with mean `{m['normalization']['mean']}` "
              f"and std `{m['normalization']['std']}`, then NHWC to NCHW. Do not normalise before feeding.", ""]
    lines += ["## Training data", ""]
    if syn:
        lines += ["Synthetic pictures only, rendered by `training/generate.py` (numpy + PIL, no external data or "
                  "pretrained weights): long-neck beer, stubby and wine-style bottles in brown, green, clear and "
                  "blue glass with paper labels; closed = crown cap, short screw cap, wine screw cap or foil "
                  "capsule; open = bare neck with lip ring and visible mouth (sometimes with a cut foil band "
                  "below the lip). Scenes vary background (solid, gradients, noise textures, stripes, checker, "
                  "wood, wall + table), lighting, brightness, contrast, saturation, gamma, scale, position, "
                  "rotation up to 14 degrees, mild blur, noise and JPEG quality 45-95, and include hard cases: a loose "
                  "cap lying next to the bottle (label follows the bottle), hands and objects occluding the body, "
                  "several bottles where the labelled one is centred and largest, close-ups of the neck, and "
                  "letterboxed non-square pictures." if not real else
                  "Synthetic pictures from `training/generate.py` (see README) mixed with real photos."]
        lines += ["",
                  f"- Train: {syn['train']['count']} pictures, seed {syn['train']['seed']} "
                  f"(indices {syn['train']['indices'][0]}-{syn['train']['indices'][1]}), balanced.",
                  f"- Validation (model selection): {syn['validation']['count']} pictures, seed "
                  f"{syn['validation']['seed']} (indices {syn['validation']['indices'][0]}-"
                  f"{syn['validation']['indices'][1]}).",
                  f"- Held-out test: {syn['test']['count']} pictures, seed {syn['test']['seed']} (a different "
                  "seed, never seen in training or model selection).",
                  f"- Picture size: {syn['image_size']}x{syn['image_size']}, rendered at that size. Picture i of a "
                  "seed has the same bottle, closure and scenario at any size; pixel-level draws (noise, JPEG "
                  "quality) differ.", ""]
    for i, st in enumerate(m["training"].get("previous_stages") or []):
        d = st.get("data", {}).get("synthetic")
        if d:
            lines += [f"Before that (stage {i + 1}, whose result the next stage started from): {d['train']['count']} "
                      f"training pictures of seed {d['train']['seed']} and {d['validation']['count']} validation "
                      f"pictures at {d.get('image_size', 128)} px, {st.get('epochs')} epochs, `{st.get('command')}`"
                      + (f" (test accuracy {st['test_accuracy'] * 100:.2f}%)" if st.get("test_accuracy") else "")
                      + ".", ""]
        elif st.get("onnx"):
            lines += [f"This run started from the weights of `{os.path.basename(st['onnx'])}` (sha256 "
                      f"`{st.get('sha256')}`): {st.get('note', '')}.", ""]
        else:
            lines += [f"Started from checkpoint {st.get('checkpoint', '?')} ({st.get('note', '')}).", ""]
    if real:
        lines += [f"Real photos from `{real['folder']}`: {real['files']} pictures {real['per_class']}, split "
                  f"{real['split']}.", ""]
    lines += ["## Test results", ""]
    for name, t in tm.items():
        lines += [f"Held-out {name} test set ({t['count']} pictures):", "",
                  f"- Accuracy: **{t['accuracy'] * 100:.2f}%** (log loss {t['log_loss']})"]
        for lab, v in t["per_class"].items():
            lines.append(f"- `{lab}`: precision {v['precision'] * 100:.2f}%, recall {v['recall'] * 100:.2f}% "
                         f"(support {v['support']})")
        cmx = t["confusion_matrix"]["matrix"]
        lines.append(f"- Confusion matrix (rows = true, columns = predicted, order closed, open): "
                     f"`{cmx}`: {cmx[0][1]} closed bottles called open, {cmx[1][0]} open bottles called closed.")
        if "by_scenario" in t:
            sc = t["by_scenario"]
            lines.append("- Accuracy by scenario: " + ", ".join(
                f"{k} {v['accuracy'] * 100:.1f}% (n={v['count']})" for k, v in sc.items()) + ".")
        lines.append("")
    syn_acc = tm.get("synthetic", {}).get("accuracy")
    if syn_acc is not None:
        lines += [f"The target for this version was at least 99% on the held-out synthetic test set: "
                  + ("met." if syn_acc >= 0.99 else f"**not met** ({syn_acc * 100:.2f}%)."), ""]
    ortv = (m.get("verification") or {}).get("onnxruntime_python")
    if isinstance(ortv, dict):
        lines += [f"The exported graph was run with onnxruntime {ortv.get('version')} (Python): "
                  f"max difference to torch {ortv.get('max_abs_diff_vs_torch', float('nan')):.1e} on "
                  f"{ortv.get('reference_pictures')} test pictures, batch sizes {ortv.get('dynamic_batch_checked')}"
                  + (f", accuracy {ortv['synthetic_accuracy']['accuracy'] * 100:.2f}% on the "
                     f"{ortv['synthetic_accuracy']['count']} test pictures" if ortv.get("synthetic_accuracy") else "")
                  + f"; checks {'passed' if ortv.get('passed') else 'FAILED'}. The service runs it in onnxruntime-node "
                    "(its tests and `pnpm bench`).", ""]
    else:
        lines += ["The exported graph has passed `onnx.checker`; it has not been run in onnxruntime here (see "
                  "`training/verify_onnx.py`), nor in onnxruntime-node.", ""]
    if "real" not in tm:
        lines += ["**This model has NOT been measured on real photographs.** All numbers above are on synthetic "
                  "pictures from the same generator it was trained on (different seed). Accuracy on real photos "
                  "is unknown and is expected to be lower, possibly much lower.", ""]
    lines += ["## Limitations", "",
              "- Trained on drawn bottles only: real glass, reflections, caps, labels and backgrounds look "
              "different (domain gap). Treat outputs on real photos as unvalidated.",
              "- Knows only: crown caps, short screw caps, wine screw caps and foil capsules as `closed`. "
              "Corks, swing tops (flip-top), sports caps, cans, jars, plastic PET bottles, cartons and bottles "
              "lying down were never shown; their predictions are meaningless.",
              "- One bottle is assumed: with several bottles it answers for the centred, largest one. A picture "
              "with no bottle still gets one of the two answers (there is no `no bottle` class); the service "
              "should not treat a probability near 0.5 as a confident answer.",
              "- The top of the bottle must be visible; a bottle whose neck is hidden or cut off cannot be "
              "judged.",
              "- Rotations beyond about 15 degrees, upside-down bottles and small bottles (glass height under "
              "about half of the picture) were not trained.",
              "- Probabilities are softmax scores, not calibrated on real data.", ""]
    lines += ["## Retraining on real photos", "",
              "Put pictures into `DIR/closed/` and `DIR/open/` (jpg, png, webp, ...; any size: they are "
              f"letterboxed to {size}x{size} exactly as the service does). Then, from the repository root:", "",
              "```sh",
              f"nice -n 19 /usr/bin/python3 training/train.py --data DIR --epochs 30 --size {size} "
              f"--out models/{m['name']}/<new version>",
              "```", "",
              "This holds out 15% of each class as the test set (`--test-frac`, `--split-seed`), or use "
              "`--test-data DIR2` for a separate test folder. Add `--synthetic 9000` to train on real and "
              "synthetic pictures together (both test sets are reported), and "
              "`--init-checkpoint /tmp/capcheck-train/model.pt` to fine-tune the synthetic model. The script "
              "writes `model.onnx`, `manifest.json` and a model card into the `--out` folder; the service "
              "serves the highest version number in `MODEL_DIR`. See `training/README.md`.", ""]
    lines += ["## Provenance", "",
              f"- Trained {m['trained_at']} with torch {m['torch_version']}, numpy {m['numpy_version']}, "
              f"Python {m['python_version']}, on {m['training']['threads']} CPU thread"
              f"{'s' if m['training']['threads'] > 1 else ''}.",
              (f"- Fine-tuned from a checkpoint trained earlier (see Training data); the times below are for this "
               f"stage only, earlier stages: " + ", ".join(f"{st['seconds']['total'] / 60:.1f} min"
                                                          for st in m["training"]["previous_stages"]
                                                          if "seconds" in st) + "."
               if m["training"].get("previous_stages") else "- Trained in a single stage from random weights."),
              f"- Training time: {m['training']['seconds']['training'] / 60:.1f} min "
              f"({m['training']['epochs']} epochs, best epoch {m['training']['best_epoch']}); total "
              f"{m['training']['seconds']['total'] / 60:.1f} min including data generation.",
              f"- Command: `{m['training']['command']}`", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
