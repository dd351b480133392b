#!/usr/bin/env python3
"""Train bottle-state v3: nsfwjs@4.4.0's MobileNetV2 (ported by port_mobilenet.py), fine-tuned, calibrated,
exported to ONNX with its manifest and model card.

Network: MobileNetV2 1.0 (weights from the npm tarball, nothing downloaded) at --size px. The layers up to
--cut (default block_14_add: stride 32, 160 channels) are frozen: their outputs are computed once per
picture (and its mirror image) and cached, which is what makes training affordable on 2 shared cores. The
rest of the backbone (blocks 15-16 and the 1280-channel 1x1 conv, initialised from the package) and a new
head (global average pool, or with --pool attention a pool weighed by a learnt score per cell -> dropout ->
linear 1280 -> 2) are trained; --top-weight adds a loss that pulls the attention pool's weights onto the
bottle's top (top_loss). The 1280 pooled features are the `embedding` output. With `--cut none`
nothing is frozen or cached: every layer is fine-tuned on the pictures (what v3 ships; training/README.md,
"Fourth run").

Data: v3data.py's strongly randomised synthetic pictures (train seed 11, validation seed 12), plus picture
folders (--extra-train, e.g. the Blender renders, oversampled --extra-repeat times) and their validation
folders (--extra-val). Test sets reported apart: generate.py seed 2 in the v3 style and in v2's style, and
any number of --eval-set NAME=DIR folders (the independent set).

Calibration: temperature scaling fitted on the validation pictures (NLL), so `probabilities` are
calibrated; certainty_threshold is chosen on validation (see choose_threshold).

  nice -n 19 /usr/bin/python3 training/train_v3.py --package /tmp/package --out models/bottle-state/3
"""

from __future__ import annotations

import argparse
import copy
import ctypes
import datetime as dt
import hashlib
import json
import os
import platform
import shlex
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import port_mobilenet as pm  # noqa: E402
import v3data  # noqa: E402
from train import preprocessing_text, sharp_snippet, try_prettier, sha256  # noqa: E402

LABELS = v3data.LABELS
# --cut value that freezes nothing: the whole backbone is fine-tuned on the pictures themselves.
NO_CUT = "none"
REPO = os.path.dirname(HERE)
ECE_BINS = 15
# A confident wrong verdict costs this many "check by eye" answers (see choose_threshold).
WRONG_CERTAIN_COST = 20


# ------------------------------------------------------------------ network


def split_graph(full: pm.KerasGraph, cut: str) -> tuple[pm.KerasGraph, pm.KerasGraph]:
    """(front, tail): front ends at layer `cut`, tail takes cut's output as its input."""
    keys = [k for k, _, _ in full.order]
    i = keys.index(pm._key(cut))
    front = copy.deepcopy(full)
    front.order = full.order[: i + 1]
    front.output_key = front.order[-1][0]
    tail = copy.deepcopy(full)
    tail.order = [(full.order[i][0], "InputLayer", [])] + full.order[i + 1 :]
    for g in (front, tail):
        names = {k for k, _, _ in g.order}
        for k in list(g.blocks.keys()):
            if k not in names:
                del g.blocks[k]
        g.last_use = {}
        for j, (_, _, inbound) in enumerate(g.order):
            for k in inbound:
                g.last_use[k] = j
    return front, tail


POOLS = ("mean", "attention")


class Head(nn.Module):
    """Pools the last feature map into the embedding, then a linear layer to the two classes.

    `pool="attention"`: each cell of the map gets a score (a 1x1 convolution of its features), and the
    embedding is the features' mean weighed by the softmax of the scores over the cells. The top of a
    bottle is one or two cells of the map; a plain mean gives the other cells the same say, so a small top
    is diluted by the background (v4's errors grow as the top shrinks: training/README.md). The scores start
    at zero, so training starts from the plain mean."""

    def __init__(self, features=1280, dropout=0.2, pool="mean"):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(features, len(LABELS))
        self.score = None
        if pool == "attention":
            self.score = nn.Conv2d(features, 1, 1)
            nn.init.zeros_(self.score.weight)
            nn.init.zeros_(self.score.bias)

    def pooled(self, fmap):
        """(embedding [N,1280], the cells' log-weights [N,cells] or None for the plain mean)."""
        if self.score is None:
            return fmap.mean((2, 3)), None
        log_weights = torch.log_softmax(self.score(fmap).flatten(1), dim=1)
        return (fmap.flatten(2) * log_weights.exp()[:, None, :]).sum(2), log_weights

    def classify(self, fmap):
        """(logits [N,2], embedding, the cells' log-weights or None): forward, with the pool's weights."""
        emb, log_weights = self.pooled(fmap)
        return self.fc(self.drop(emb)), emb, log_weights

    def forward(self, fmap):
        logits, emb, _ = self.classify(fmap)
        return logits, emb


def load_attention_net(package: str, weights: str):
    """(tail, head) of a --pool attention run's checkpoint (WORKDIR/mobilenet_none_SIZE_epochN.pt, or
    two_view.py's), in eval mode."""
    tail = pm.load_package_model(package, until=pm.BACKBONE_END)
    head = Head(pool="attention")
    saved = torch.load(weights)
    tail.load_state_dict(saved["tail"])
    head.load_state_dict(saved["head"])
    return tail.eval(), head.eval()


def top_target(top_xy: torch.Tensor, rows: int, cols: int, sigma=0.5) -> torch.Tensor:
    """[N,rows*cols]: where the attention pool should look, for tops at `top_xy` ([N,2], 0..1 of the model's
    input): a Gaussian of `sigma` cells around the top, over the cells' centres, summing to 1."""
    cy = (torch.arange(rows, dtype=torch.float32) + 0.5) / rows
    cx = (torch.arange(cols, dtype=torch.float32) + 0.5) / cols
    dy = (cy[None, :, None] - top_xy[:, 1, None, None]) * rows
    dx = (cx[None, None, :] - top_xy[:, 0, None, None]) * cols
    return torch.softmax((-(dx**2 + dy**2) / (2 * sigma**2)).flatten(1), dim=1)


class Exported(nn.Module):
    """uint8 NHWC [N,S,S,3] -> (calibrated probabilities [N,2], embedding [N,1280])."""

    def __init__(self, front, tail, head, temperature):
        super().__init__()
        self.front, self.tail, self.head = front, tail, head
        self.register_buffer("inv_t", torch.tensor(1.0 / float(temperature)))

    def forward(self, image):
        x = image.float().div(255.0).permute(0, 3, 1, 2)  # nsfwjs' MobileNetV2 takes RGB in [0, 1]
        logits, emb = self.head(self.tail(self.front(x)))
        return torch.softmax(logits * self.inv_t, dim=1), emb


def count_macs(net: nn.Module, size: int) -> int:
    """Multiply-adds of one picture, counted by forward hooks on every Conv2d and Linear."""
    total = [0]

    def hook(m, _inp, out):
        if isinstance(m, nn.Conv2d):
            total[0] += out[0].numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, nn.Linear):
            total[0] += m.in_features * m.out_features

    hooks = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        net(torch.zeros(1, size, size, 3, dtype=torch.uint8))
    for h in hooks:
        h.remove()
    return total[0]


# ------------------------------------------------------------------ feature cache


def front_features(front, X: np.ndarray, workdir: str, tag: str, flip=False, block=v3data.CHUNK) -> np.ndarray:
    """Front outputs (float16 [N,C,h,w]) of uint8 pictures, cached in workdir per block of `block` pictures
    by content hash (blocks line up with v3data's chunks, so a longer training set reuses earlier work).
    With nothing frozen (`--cut none`) the pictures are the inputs: returned as they are (uint8 NHWC; train()
    mirrors them itself)."""
    if isinstance(front, nn.Identity):
        return X
    if len(X) == 0:
        return np.zeros((0,), np.float16)
    return np.concatenate([_front_block(front, X[a : a + block], workdir, tag, flip)
                           for a in range(0, len(X), block)])


def _front_block(front, X: np.ndarray, workdir: str, tag: str, flip=False, shard=True, batch=2) -> np.ndarray | None:
    h = hashlib.sha1(X.tobytes()).hexdigest()[:16]
    path = os.path.join(workdir, f"feat_{tag}_{h}{'_flip' if flip else ''}.npy")
    if os.path.exists(path):
        return np.load(path)
    if not shard:
        return None
    out = None
    t0 = time.time()
    with torch.no_grad():
        for a in range(0, len(X), batch):
            xb = torch.from_numpy(X[a : a + batch]).float().div(255.0).permute(0, 3, 1, 2).contiguous()
            if flip:
                xb = xb.flip(3)
            f = front(xb).numpy().astype(np.float16)
            if out is None:
                out = np.empty((len(X),) + f.shape[1:], np.float16)
            out[a : a + batch] = f
    np.save(path + ".part.npy", out)
    os.replace(path + ".part.npy", path)
    print(f"  features {tag} {len(X)} pictures{' (mirrored)' if flip else ''} in {time.time() - t0:.0f}s",
          flush=True)
    return out


# ------------------------------------------------------------------ metrics


def ece(y, probs, bins=ECE_BINS):
    conf = probs.max(1)
    correct = probs.argmax(1) == y
    edges = np.linspace(0.5, 1.0, bins + 1)  # 2 classes: confidence is at least 0.5
    total = 0.0
    for i in range(bins):
        lo, hi = edges[i], edges[i + 1]
        m = (conf > lo) & (conf <= hi) if i else (conf >= lo) & (conf <= hi)
        if m.any():
            total += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(total)


def metrics(y, probs, threshold=None):
    pred = probs.argmax(1)
    cm = np.zeros((2, 2), np.int64)
    for t, p in zip(y, pred):
        cm[t, p] += 1
    per = {}
    for i, lab in enumerate(LABELS):
        tp = cm[i, i]
        prec = tp / max(1, cm[:, i].sum())
        rec = tp / max(1, cm[i].sum())
        per[lab] = dict(precision=round(float(prec), 4), recall=round(float(rec), 4),
                        f1=round(float(2 * prec * rec / max(1e-9, prec + rec)), 4), support=int(cm[i].sum()))
    eps = 1e-7
    out = dict(count=int(len(y)), accuracy=round(float((pred == y).mean()), 4),
               log_loss=round(float(-np.log(np.clip(probs[np.arange(len(y)), y], eps, 1)).mean()), 4),
               ece=round(ece(y, probs), 4), per_class=per,
               confusion_matrix=dict(rows="true label", columns="predicted label", labels=LABELS,
                                     matrix=cm.tolist()))
    if threshold is not None:
        out.update(certainty(y, probs, threshold))
    return out


def certainty(y, probs, threshold):
    conf = probs.max(1)
    right = probs.argmax(1) == y
    certain = conf >= threshold
    return dict(certain_fraction=round(float(certain.mean()), 4),
                accuracy_when_certain=round(float(right[certain].mean()) if certain.any() else 1.0, 4),
                wrong_and_certain_fraction=round(float((certain & ~right).mean()), 4),
                wrong_and_certain=int((certain & ~right).sum()))


def scored(y, logits, T, threshold):
    """metrics() of the calibrated probabilities, with the expected calibration error before calibration."""
    m = metrics(y, softmax(logits, T), threshold)
    m["ece_uncalibrated"] = round(ece(y, softmax(logits)), 4)
    return m


def calibration_record(T, val_metrics, tests, n_val, extra_val):
    """The manifest's figures of a calibration: the temperature, what it was fitted on, and the ECE of every
    set before and after. extra_val: [(folder, pictures)] that joined the synthetic validation pictures."""

    def per_set(key):
        return {"validation": val_metrics[key],
                **{("test_" + k if k.startswith("synthetic") else k): v[key] for k, v in tests.items()}}

    return {"temperature": round(T, 4),
            "fitted_on": f"validation: {n_val} synthetic (seed {v3data.SETS['val'][0]})"
                         + "".join(f" + {n} pictures from {d}" for d, n in extra_val),
            "ece_bins": ECE_BINS, "ece": per_set("ece"), "ece_uncalibrated": per_set("ece_uncalibrated")}


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """Temperature minimising validation NLL (1-D search on log T; convex in 1/T)."""
    lt = torch.from_numpy(logits).double()
    yt = torch.from_numpy(y)
    grid = np.exp(np.linspace(np.log(0.05), np.log(20), 400))
    nll = [F.cross_entropy(lt / t, yt).item() for t in grid]
    best = grid[int(np.argmin(nll))]
    fine = np.linspace(best * 0.97, best * 1.03, 61)
    nll = [F.cross_entropy(lt / t, yt).item() for t in fine]
    return float(fine[int(np.argmin(nll))])


def choose_threshold(y, probs):
    """Calibrated confidence below the threshold => not certain. Chosen on validation to minimise
    WRONG_CERTAIN_COST * (wrong and certain) + (right but not certain), i.e. a confident wrong verdict
    costs that many needless checks by eye; never below 0.8."""
    conf = probs.max(1)
    right = probs.argmax(1) == y
    best = None
    for t in np.round(np.arange(0.8, 0.9995, 0.0025), 4):
        certain = conf >= t
        cost = WRONG_CERTAIN_COST * (certain & ~right).sum() + (~certain & right).sum()
        if best is None or cost < best[0]:
            best = (cost, float(t))
    return best[1]


# ------------------------------------------------------------------ training


def as_input(feats: np.ndarray) -> torch.Tensor:
    """A batch for the tail: cached features as float32, or uint8 NHWC pictures as the exported graph feeds
    them (RGB / 255, NCHW)."""
    if feats.dtype == np.uint8:
        return torch.from_numpy(np.ascontiguousarray(feats)).float().div(255.0).permute(0, 3, 1, 2)
    return torch.from_numpy(feats.astype(np.float32))


def logits_of(tail, head, feats: np.ndarray, batch=256):
    tail.eval()
    head.eval()
    outs = []
    with torch.no_grad():
        for a in range(0, len(feats), batch):
            logits, _ = head(tail(as_input(feats[a : a + batch])))
            outs.append(logits.numpy())
    return np.concatenate(outs) if outs else np.zeros((0, 2), np.float32)


def softmax(z, t=1.0):
    z = z / t
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def grey_of(xb: torch.Tensor) -> torch.Tensor:
    """The luma of N,3,H,W pictures (ITU-R BT.601 weights), as N,1,H,W."""
    return xb.mul(torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)


def photometric(xb: torch.Tensor, gen: np.random.Generator) -> torch.Tensor:
    """Camera-like changes to a batch of pictures (N,3,H,W in 0..1), each drawn per picture: brightness,
    contrast and saturation by up to +-30 %, and for a fifth of them a slight blur, for another fifth sensor
    noise. The generators already vary light and colour; this varies them once more per epoch, so the
    --extra-repeat copies of a render are not the same picture over and over."""
    n = xb.shape[0]

    def draw(lo, hi):
        return torch.from_numpy(gen.uniform(lo, hi, (n, 1, 1, 1)).astype(np.float32))

    grey = grey_of(xb)
    xb = grey + (xb - grey) * draw(0.7, 1.3)  # saturation
    mean = grey.mean((2, 3), keepdim=True)
    xb = (mean + (xb - mean) * draw(0.7, 1.3)) * draw(0.7, 1.3)  # contrast, then brightness
    blur = torch.from_numpy(gen.random(n) < 0.2)
    if blur.any():
        kernel = torch.tensor([0.25, 0.5, 0.25])
        kernel = (kernel[:, None] * kernel[None, :]).expand(3, 1, 3, 3).contiguous()
        xb[blur] = F.conv2d(F.pad(xb[blur], (1, 1, 1, 1), mode="replicate"), kernel, groups=3)
    noisy = torch.from_numpy(gen.random(n) < 0.2)
    if noisy.any():
        xb[noisy] += torch.randn_like(xb[noisy]) * draw(0.0, 0.04)[noisy]
    return xb.clamp(0.0, 1.0)


def style_shift(xb: torch.Tensor, gen: np.random.Generator, share=0.5) -> torch.Tensor:
    """Changes of look that keep the shapes: for `share` of the pictures, a random convolution (a random
    1x1, 3x3 or 5x5 filter across the three channels, its output brought back to the picture's own mean
    and spread, blended with the picture by a random weight), then for a third of them the colour
    channels in another order and for a tenth grey. The errors on ray-traced bottles (plain caps called
    open) suggest the net keys on the generators' textures and colours; a random convolution changes
    texture and colour while leaving outlines where they are, so only the shapes stay worth learning."""
    n = xb.shape[0]
    chosen = np.flatnonzero(gen.random(n) < share)
    for i in chosen:
        k = int(gen.choice([1, 3, 5]))
        w = torch.from_numpy(gen.normal(0.0, 1.0 / np.sqrt(3 * k * k), (3, 3, k, k)).astype(np.float32))
        x = xb[i : i + 1]
        y = F.conv2d(F.pad(x, (k // 2,) * 4, mode="reflect"), w)
        y = (y - y.mean((2, 3), keepdim=True)) / (y.std((2, 3), keepdim=True) + 1e-5)
        y = y * x.std((2, 3), keepdim=True) + x.mean((2, 3), keepdim=True)
        a = float(gen.uniform(0.0, 1.0))
        x = a * y + (1 - a) * x
        if gen.random() < 1 / 3:
            x = x[:, torch.from_numpy(gen.permutation(3))]
        if gen.random() < 0.1:
            x = grey_of(x).expand(1, 3, *x.shape[2:])
        xb[i : i + 1] = x
    return xb.clamp(0.0, 1.0)


def top_loss(log_weights, fmap_shape, tops: np.ndarray, flipped: np.ndarray) -> torch.Tensor:
    """Cross-entropy of the attention pool's cell weights against top_target, over the pictures whose top is
    known (tops not NaN); mirrored pictures have their top mirrored."""
    known = ~np.isnan(tops[:, 0])
    if not known.any():
        return log_weights.sum() * 0.0
    xy = tops[known].copy()
    xy[flipped[known], 0] = 1.0 - xy[flipped[known], 0]
    target = top_target(torch.from_numpy(xy), fmap_shape[2], fmap_shape[3])
    return -(target * log_weights[torch.from_numpy(known)]).sum(1).mean()


def train(tail, head, F_tr, F_tr_flip, y_tr, F_va, y_va, args, on_epoch=None, tops_tr=None):
    """tops_tr: float32 [N,2], where each training picture's top is (NaN: unknown), for --top-weight."""
    params = [{"params": tail.parameters(), "lr": args.lr_tail}, {"params": head.parameters(), "lr": args.lr}]
    opt = torch.optim.AdamW(params, weight_decay=args.weight_decay)
    steps = args.epochs * int(np.ceil(len(y_tr) / args.batch))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[args.lr_tail, args.lr], total_steps=steps,
                                                pct_start=0.15)
    gen = np.random.default_rng(args.seed)
    history = []
    best = (-1.0, None, float("inf"), 0)
    pictures = F_tr.dtype == np.uint8  # nothing frozen: mirror on the fly, no feature dropout
    for epoch in range(1, args.epochs + 1):
        t0 = time.time()
        tail.train()
        head.train()
        order = gen.permutation(len(y_tr))
        flips = gen.random(len(y_tr)) < 0.5
        tot, tot_top, correct, n = 0.0, 0.0, 0, 0
        for a in range(0, len(order), args.batch):
            idx = np.sort(order[a : a + args.batch])  # sorted: faster gathers from the big array
            if pictures:
                xb = as_input(F_tr[idx])
                xb = torch.where(torch.from_numpy(flips[idx])[:, None, None, None], xb.flip(3), xb)
                if args.photometric:
                    xb = photometric(xb, gen)
                if args.style_shift:
                    xb = style_shift(xb, gen, args.style_shift)
            else:
                fb = F_tr[idx] if F_tr_flip is None else np.where(flips[idx, None, None, None], F_tr_flip[idx], F_tr[idx])
                xb = as_input(fb)
                if args.feature_dropout:
                    xb = F.dropout2d(xb, args.feature_dropout)
            yb = torch.from_numpy(y_tr[idx])
            fmap = tail(xb)
            logits, _, log_weights = head.classify(fmap)
            loss = F.cross_entropy(logits, yb, label_smoothing=args.label_smoothing)
            if args.top_weight:
                attention_loss = top_loss(log_weights, fmap.shape, tops_tr[idx], flips[idx])
                loss = loss + args.top_weight * attention_loss
                tot_top += attention_loss.item() * len(idx)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item() * len(idx)
            correct += int((logits.argmax(1) == yb).sum())
            n += len(idx)
            if pictures and (a // args.batch) % 100 == 99:
                top = f", top loss {tot_top / n:.4f}" if args.top_weight else ""
                print(f"    {n} pictures, loss {tot / n:.4f}{top}, acc {correct / n:.4f}, {time.time() - t0:.0f}s",
                      flush=True)
        lv = logits_of(tail, head, F_va)
        pv = softmax(lv)
        va_acc = float((pv.argmax(1) == y_va).mean())
        va_loss = float(-np.log(np.clip(pv[np.arange(len(y_va)), y_va], 1e-7, 1)).mean())
        rec = dict(epoch=epoch, train_loss=round(tot / n, 4), train_acc=round(correct / n, 4),
                   val_acc=round(va_acc, 4), val_loss=round(va_loss, 4), seconds=round(time.time() - t0, 1))
        if args.top_weight:
            rec["top_loss"] = round(tot_top / n, 4)  # part of train_loss, unweighted
        history.append(rec)
        print(f"  epoch {epoch}: {rec}", flush=True)
        if on_epoch:
            on_epoch(epoch, rec)
        if va_acc > best[0] or (va_acc == best[0] and va_loss < best[2]):
            best = (va_acc, (copy.deepcopy(tail.state_dict()), copy.deepcopy(head.state_dict())), va_loss, epoch)
    tail.load_state_dict(best[1][0])
    head.load_state_dict(best[1][1])
    return history, best[3]


def epoch_reporter(front, tail, head, args, tag, evals):
    """After each epoch: keep its weights (a stopped run can be exported with --weights --epochs 0) and print
    its accuracy on the --eval-set folders (`evals`: [(name, (X, y))]), for information only (the epoch is
    chosen on validation)."""

    def on_epoch(epoch, rec):
        torch.save(dict(tail=tail.state_dict(), head=head.state_dict(), record=rec),
                   os.path.join(args.workdir, f"mobilenet_{tag}_epoch{epoch}.pt"))
        for name, (X, y) in evals:
            if len(y):
                p = softmax(logits_of(tail, head, front_features(front, X, args.workdir, tag)))
                print(f"    {name}: {float((p.argmax(1) == y).mean()) * 100:.2f}% of {len(y)}", flush=True)

    return on_epoch


# ------------------------------------------------------------------ export


def export_onnx(model: Exported, path: str, size: int):
    model.eval()
    dummy = torch.zeros(2, size, size, 3, dtype=torch.uint8)
    torch.onnx.export(model, dummy, path, input_names=["image"], output_names=["probabilities", "embedding"],
                      dynamic_axes={"image": {0: "batch"}, "probabilities": {0: "batch"}, "embedding": {0: "batch"}},
                      opset_version=17, do_constant_folding=True)
    import onnx

    m = onnx.load(path)
    onnx.checker.check_model(m)
    return m


def save_reference(model: nn.Module, X: np.ndarray, workdir: str) -> np.ndarray:
    """Torch outputs on a few pictures, written for verify_onnx_node.mjs (reference.bin + .json); returns the
    probabilities."""
    with torch.no_grad():
        probs, emb = model(torch.from_numpy(X))
    X.tofile(os.path.join(workdir, "reference.bin"))
    with open(os.path.join(workdir, "reference.json"), "w") as f:
        json.dump(dict(shape=list(X.shape), probabilities=probs.numpy().tolist(), embedding=emb.numpy().tolist()), f)
    return probs.numpy()


def keep_freed_memory():
    """Ask glibc's malloc to keep freed memory in the process rather than hand it back to the kernel.

    Every batch allocates and frees tensors of tens of megabytes. By default glibc maps each such block
    afresh and unmaps it when freed, so the next batch faults its pages in again: from the second epoch on,
    a run spent most of its time in page faults and took twice as long per picture (training/README.md,
    eleventh run). With large blocks taken from the heap and the heap never trimmed, the pages are faulted
    in once. Without glibc (no libc.so.6) nothing is changed."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_top_pad, m_mmap_max = -1, -2, -4  # malloc.h
    libc.mallopt(m_mmap_max, 0)
    libc.mallopt(m_trim_threshold, 2**31 - 1)
    libc.mallopt(m_top_pad, 1 << 30)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--package", required=True, help="unpacked nsfwjs@4.4.0 tarball (folder with package.json)")
    ap.add_argument("--size", type=int, default=144)
    ap.add_argument("--cut", default="block_14_add",
                    help=f"last frozen layer (its output is cached); '{NO_CUT}': fine-tune every layer on the pictures")
    v3data.add_style_flag(ap)
    ap.add_argument("--weights", help="start from this file of a previous run (WORKDIR/mobilenet_*_epoch{N}.pt)")
    ap.add_argument("--workdir", default=v3data.WORKDIR)
    ap.add_argument("--train-count", type=int, default=None, help="synthetic training pictures (default all)")
    ap.add_argument("--val-count", type=int, default=None, help="synthetic validation pictures (default 2000)")
    ap.add_argument("--test-count", type=int, default=None, help="pictures of the v3-style synthetic test set (default 2000; the v2-style one always has 2000)")
    ap.add_argument("--only-rendered", action="store_true", help="use the finished training chunks only")
    ap.add_argument("--extra-train", action="append", default=[], help="folder with closed/ and open/ (repeatable)")
    ap.add_argument("--extra-repeat", type=int, default=3, help="times each --extra-train picture is seen per epoch")
    ap.add_argument("--extra-val", action="append", default=[], help="validation folder (repeatable)")
    ap.add_argument("--extra-generator", help="what rendered the --extra-train and --extra-val folders (for the card)")
    ap.add_argument("--eval-set", action="append", default=[], help="NAME=DIR reported apart (repeatable)")
    ap.add_argument("--eval-generator", action="append", default=[], help="NAME=TEXT: what rendered eval set NAME")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--pool", choices=POOLS, default="mean",
                    help="how the last feature map becomes the embedding: its mean, or weighed by learnt cell scores (Head)")
    ap.add_argument("--top-weight", type=float, default=0.0,
                    help="with --pool attention: weight of a second loss that pulls the pool's attention onto the "
                         "bottle's top, where the training pictures record it (top_loss())")
    ap.add_argument("--photometric", action="store_true",
                    help="with --cut none: random brightness, contrast, saturation, blur and noise (photometric())")
    ap.add_argument("--style-shift", type=float, default=0.0,
                    help="with --cut none: share of the pictures given a random convolution, channel order or grey (style_shift())")
    ap.add_argument("--mirror", action="store_true", help="also cache mirrored pictures' features (augmentation)")
    ap.add_argument("--shard", default="0/1", help="with --features-only: k/n, this process's share of the blocks")
    ap.add_argument("--features-only", action="store_true", help="cache the frozen layers' outputs, then stop")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3, help="head learning rate")
    ap.add_argument("--lr-tail", type=float, default=5e-4, help="learning rate of the pretrained blocks after --cut")
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--label-smoothing", type=float, default=0.0)
    ap.add_argument("--feature-dropout", type=float, default=0.1, help="channel dropout on the cached features")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads; keep 1: the denormal flush applies to the calling thread only")
    ap.add_argument("--out", default=os.path.join(REPO, "models", "bottle-state", "3"))
    args = ap.parse_args(argv)
    if args.top_weight and args.pool != "attention":
        ap.error("--top-weight needs --pool attention")
    v3data.use_style(args)
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # the dequantised weights make denormals: 5-10x slower without this
    keep_freed_memory()
    torch.manual_seed(args.seed)
    os.makedirs(args.workdir, exist_ok=True)
    t_start = time.time()

    full = pm.load_package_model(args.package, until=pm.BACKBONE_END)
    if args.cut == NO_CUT:
        front, tail = nn.Identity(), full
    else:
        front, tail = split_graph(full, args.cut)
        pm.fold_batchnorms(front.eval())
        for p in front.parameters():
            p.requires_grad_(False)
    for m in tail.modules():
        if isinstance(m, nn.BatchNorm2d):
            # Keras' momentum 0.999 (torch 0.001) would leave the running statistics at their nsfwjs values
            # while the batches come from bottles: evaluation would then see other statistics than training
            m.momentum = 0.1
    head = Head(pool=args.pool)
    tag = f"{args.cut}_{args.size}"
    if args.weights:
        saved = torch.load(args.weights)
        tail.load_state_dict(saved["tail"])
        head.load_state_dict(saved["head"])

    # ---- data
    t0 = time.time()
    X_tr, y_tr, _ = v3data.load_set("train", args.size, args.workdir, args.train_count, args.only_rendered)
    X_va, y_va, _ = v3data.load_set("val", args.size, args.workdir, args.val_count)
    extra_tr = [v3data.load_folder(d, args.size) for d in args.extra_train]
    extra_va = [v3data.load_folder(d, args.size) for d in args.extra_val]
    n_extra = sum(len(e[1]) for e in extra_tr)
    print(f"data: {len(y_tr)} synthetic train, {n_extra} extra train x{args.extra_repeat}, {len(y_va)} synthetic "
          f"val, {sum(len(e[1]) for e in extra_va)} extra val ({time.time() - t0:.0f}s)", flush=True)
    eval_sets = [(name, v3data.load_folder(d, args.size)[:2])
                 for name, d in (spec.split("=", 1) for spec in args.eval_set)]
    if args.features_only:  # precompute in --shard processes (blocks dealt out round-robin) while renders go on
        k, n = (int(v) for v in args.shard.split("/"))
        sets = [X_va, X_tr] + [X for X, _, _ in extra_tr + extra_va]
        sets += [X for _, (X, _) in eval_sets]
        sets.append(v3data.load_set("test_v2style", args.size, args.workdir, only_existing=True)[0])
        sets.append(v3data.load_set("test_strong", args.size, args.workdir, args.test_count, only_existing=True)[0])
        blocks = [X[a : a + v3data.CHUNK] for X in sets for a in range(0, len(X), v3data.CHUNK)]
        for g, X in enumerate(blocks):
            _front_block(front, X, args.workdir, tag, shard=(g % n == k))
        return
    mirror_cached = args.mirror and args.cut != NO_CUT  # with --cut none, train() mirrors the pictures itself
    feats_tr = [front_features(front, X_tr, args.workdir, tag)]
    feats_tr_flip = [front_features(front, X_tr, args.workdir, tag, flip=True)] if mirror_cached else None
    ys_tr = [y_tr]
    for X, y, _ in extra_tr:
        if len(y):
            f = front_features(front, X, args.workdir, tag)
            feats_tr += [f] * args.extra_repeat
            if mirror_cached:
                feats_tr_flip += [front_features(front, X, args.workdir, tag, True)] * args.extra_repeat
            ys_tr += [y] * args.extra_repeat
    F_tr, Y_tr, T_tr = np.concatenate(feats_tr), np.concatenate(ys_tr), None
    if args.top_weight:
        tops_tr = [v3data.load_tops("train", args.size, args.workdir, args.train_count, args.only_rendered)]
        for d, (_, y, files) in zip(args.extra_train, extra_tr):  # in feats_tr's order
            if len(y):
                tops_tr += [v3data.folder_tops(d, files, args.size)] * args.extra_repeat
        T_tr = np.concatenate(tops_tr)
        print(f"tops known for {int((~np.isnan(T_tr[:, 0])).sum())} of {len(T_tr)} training pictures", flush=True)
    F_tr_flip = np.concatenate(feats_tr_flip) if mirror_cached else None
    del feats_tr, feats_tr_flip
    F_va_parts = [front_features(front, X_va, args.workdir, tag)] + [
        front_features(front, X, args.workdir, tag) for X, y, _ in extra_va if len(y)]
    y_va_parts = [y_va] + [y for _, y, _ in extra_va if len(y)]
    F_va, Y_va = np.concatenate(F_va_parts), np.concatenate(y_va_parts)
    t_data = time.time() - t_start

    # ---- train
    t0 = time.time()
    if args.epochs:
        history, best_epoch = train(tail, head, F_tr, F_tr_flip, Y_tr, F_va, Y_va, args,
                                    on_epoch=epoch_reporter(front, tail, head, args, tag, eval_sets), tops_tr=T_tr)
    else:  # export what --weights holds
        history, best_epoch = [], None
    t_train = time.time() - t0

    # ---- calibrate on validation
    lv = logits_of(tail, head, F_va)
    T = fit_temperature(lv, Y_va)
    threshold = choose_threshold(Y_va, softmax(lv, T))
    print(f"temperature {T:.3f}, certainty threshold {threshold}", flush=True)
    val_metrics = scored(Y_va, lv, T, threshold)

    # ---- tests
    tests = {}
    test_sets = [("synthetic", v3data.load_set("test_strong", args.size, args.workdir, args.test_count)[:2]),
                 ("synthetic_v2_style", v3data.load_set("test_v2style", args.size, args.workdir)[:2])] + eval_sets
    test_preds = {}
    for name, (X, y) in test_sets:
        if not len(y):
            continue
        lt = logits_of(tail, head, front_features(front, X, args.workdir, tag))
        m = scored(y, lt, T, threshold)
        tests[name] = m
        test_preds[name] = (X, y, softmax(lt, T))
        print(f"test {name}: acc {m['accuracy']} ece {m['ece_uncalibrated']} -> {m['ece']} certain "
              f"{m['certain_fraction']} wrong&certain {m['wrong_and_certain_fraction']}", flush=True)

    # ---- export
    model = Exported(front, tail.eval(), head.eval(), T).eval()
    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, "model.onnx")
    onnx_model = export_onnx(model, onnx_path, args.size)
    ref_p = save_reference(model, test_preds["synthetic"][0][:32], args.workdir)
    # the exported model against the cached-feature path on the test pictures (float16 cache rounding)
    p_check = ref_p
    cache_diff = float(np.abs(p_check - test_preds["synthetic"][2][:32]).max())

    macs = count_macs(model, args.size)
    n_params = sum(p.numel() for p in model.parameters())
    generators = dict(s.split("=", 1) for s in args.eval_generator)
    manifest = build_manifest(args, T, threshold, val_metrics, tests, history, best_epoch, macs, n_params,
                              onnx_path, onnx_model, len(y_tr), n_extra, len(y_va), extra_va, generators,
                              dict(data=round(t_data, 1), training=round(t_train, 1),
                                   total=round(time.time() - t_start, 1)), cache_diff)
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    with open(os.path.join(args.out, "MODEL_CARD.md"), "w") as f:
        f.write(model_card(manifest))
    try_prettier([os.path.join(args.out, "manifest.json"), os.path.join(args.out, "MODEL_CARD.md")])
    torch.save(dict(tail=tail.state_dict(), head=head.state_dict(), T=T, threshold=threshold),
               os.path.join(args.workdir, "v3.pt"))
    print(f"wrote {args.out} ({macs} multiply-adds per picture, {n_params} parameters) in "
          f"{(time.time() - t_start) / 60:.1f} min")


def build_manifest(args, T, threshold, val_metrics, tests, history, best_epoch, macs, n_params, onnx_path,
                   onnx_model, n_train, n_extra, n_val, extra_va, generators, seconds, cache_diff):
    import onnx

    size = args.size
    version = os.path.basename(os.path.normpath(args.out))
    test_metrics = {}
    for name, m in tests.items():
        m = dict(m)
        if name in generators:
            m["generator"] = generators[name]
        test_metrics[name] = m
    return {
        "name": "bottle-state",
        "version": version,
        "task": "binary image classification: is the (centred, largest) bottle closed or open?",
        "labels": LABELS,
        "file": "model.onnx",
        "sha256": sha256(onnx_path),
        "size_bytes": os.path.getsize(onnx_path),
        "format": {"type": "onnx", "opset": 17, "ir_version": onnx_model.ir_version, "onnx_version": onnx.__version__},
        "input": {
            "name": "image", "dtype": "uint8", "layout": "NHWC", "shape": [None, size, size, 3], "channels": "RGB",
            "range": "0..255 raw bytes",
            "resize": {"width": size, "height": size, "fit": "contain", "position": "centre",
                       "background": [0, 0, 0], "kernel": "lanczos3", "description": preprocessing_text(size),
                       "sharp_example": sharp_snippet(size)},
        },
        "output": {
            "name": "probabilities", "dtype": "float32", "shape": [None, 2],
            "description": "calibrated softmax probabilities (temperature scaling inside the graph) in the order "
                           "of `labels` (index 0 = closed, 1 = open); rows sum to 1",
        },
        "embedding": {
            "name": "embedding", "dtype": "float32", "shape": [None, 1280], "size": 1280,
            "description": "penultimate features: MobileNetV2's 1280 channels "
                           + ("averaged over the picture" if args.pool == "mean" else
                              "averaged over the picture's cells, weighed by the softmax over the cells of a learnt "
                              "score of each cell's features")
                           + " (ReLU6, so 0..6), the input of the final linear layer; for adapting the model to a "
                           "user's own pictures",
        },
        "certainty_threshold": threshold,
        "certainty": "a verdict is certain when its calibrated probability (the larger of the two) is at least "
                     "certainty_threshold; below it the answer should be checked by eye",
        "calibration": {
            "method": "temperature scaling (one temperature fitted on the validation set by minimising the "
                      "negative log-likelihood; logits divided by it before the softmax, inside the graph)",
            **calibration_record(T, val_metrics, tests, n_val,
                                 [(d, len(e[1])) for d, e in zip(args.extra_val, extra_va)]),
            "threshold_rule": f"on validation, minimise {WRONG_CERTAIN_COST} x (wrong and certain) + (right but "
                              "not certain) over thresholds 0.8..0.9995",
        },
        "normalization": {"scale": "x / 255 (RGB in [0, 1]), inside the graph, as nsfwjs feeds this network",
                          "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]},
        "architecture": {
            "family": "MobileNetV2 1.0 (Keras layout), fine-tuned",
            "description": "uint8 NHWC -> /255 -> NCHW -> MobileNetV2 ("
                           + ("every layer fine-tuned from the package's weights" if args.cut == NO_CUT else
                              f"frozen up to {args.cut}, BatchNorms folded; blocks after it and the 1x1 conv to 1280 "
                              "channels fine-tuned")
                           + (") -> global average pool" if args.pool == "mean" else
                              ") -> attention pool (1x1 conv 1280 -> 1 score per cell, softmax over the cells, "
                              "the features' weighed sum)")
                           + " (= embedding, 1280) -> linear(1280, 2) -> /temperature -> "
                           "softmax. No test-time flip.",
            "parameters": n_params,
            "multiply_adds_per_picture": macs,
            "multiply_adds_counted": "forward hooks on every Conv2d and Linear of the exported torch module, "
                                     f"one {size}x{size} picture",
            "frozen_until": None if args.cut == NO_CUT else args.cut,
            "pretrained": {
                "package": pm.PACKAGE,
                "path": "dist/models/mobilenet_v2/ (model.min.js + group1-shard1of1.min.js, TF.js layers "
                        "format, uint8-quantised weights)",
                "licence": "MIT",
                "origin": "nsfwjs' MobileNetV2: Keras MobileNetV2 1.0 (224 px) with ImageNet weights, then "
                          "trained by nsfwjs' authors (GantMan/nsfw_model, data from alexkimxyz/nsfw_data_scraper) "
                          "to sort pictures into 5 classes (Drawing, Hentai, Neutral, Porn, Sexy); in the shipped "
                          "model the early layers are marked not trainable (kept from ImageNet) and the later "
                          "blocks were fine-tuned on their data. Their 5-class head is not used here.",
                "port": "training/port_mobilenet.py; proved against the package's own model in @tensorflow/tfjs "
                        "by training/prove_port.mjs (see training/README.md)",
            },
        },
        "training": {
            "data": {
                "synthetic": {"generator": f"training/generate.py {generator_flags()} (numpy + PIL)", "image_size": size,
                              "train": {"seed": v3data.SETS["train"][0], "count": n_train},
                              "validation": {"seed": v3data.SETS["val"][0], "count": n_val},
                              "test": {"seed": 2, "count": tests.get("synthetic", {}).get("count")}},
                "extra_train": {"folders": args.extra_train, "pictures": n_extra, "repeat": args.extra_repeat,
                                "generator": args.extra_generator},
                "extra_validation": {"folders": args.extra_val, "pictures": sum(len(e[1]) for e in extra_va)},
            },
            "epochs": args.epochs, "best_epoch": best_epoch, "batch": args.batch, "optimizer": "AdamW",
            "lr_head": args.lr, "lr_backbone": args.lr_tail, "schedule": "one-cycle",
            "weight_decay": args.weight_decay, "label_smoothing": args.label_smoothing,
            "top_loss": None if not args.top_weight else {
                "weight": args.top_weight,
                "what": "cross-entropy of the attention pool's cell weights against a Gaussian of half a cell "
                        "around the labelled bottle's top (generate.py's top maps, the renders' top_xy), added to "
                        "the classification loss; pictures whose top is not recorded add nothing"},
            "augmentation": ("left-right mirror of half the pictures, drawn anew each epoch; "
                             + ("brightness, contrast and saturation by up to 30 %, a slight blur (1 in 5) and "
                                "sensor noise (1 in 5), per picture and epoch; " if args.photometric else "")
                             + (f"for {args.style_shift:.0%} of the pictures a random convolution blended in, "
                                "then for a third of those the colour channels reordered and for a tenth grey "
                                "(style_shift()); " if args.style_shift else "")
                             if args.cut == NO_CUT
                             else ("left-right mirror (features of both cached), " if args.mirror else "")
                             + f"channel dropout on the cached features ({args.feature_dropout}); ")
                            + "everything else is the generator's (and the renders') own randomisation",
            "history": history, "seconds": seconds, "threads": args.threads, "machine": platform.machine(),
            "command": "python3 training/train_v3.py " + shlex.join(sys.argv[1:]),
        },
        "validation_metrics": val_metrics,
        "test_metrics": test_metrics,
        "real_photographs_evaluated": False,
        "verification": {"onnx_checker": "passed", "max_abs_diff_exported_vs_cached_features": cache_diff},
        "trained_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
    }


def generator_flags():
    return "--strong --more-kinds" if v3data.STRONG == 2 else "--strong"


def extra_train_line(extra):
    source = f"`{extra['generator']}` ({', '.join(extra['folders'])})" if extra.get("generator") \
        else ", ".join(extra["folders"])
    return f"- {extra['pictures']} pictures from {source}, each seen {extra['repeat']} times per epoch."


def weight_average_line(avg):
    runs = "; ".join(f"`{r['sha256'][:12]}` (trained {r['trained_at']}: `{r['command']}`)" for r in avg["models"])
    return (f"- Weights: {avg['method']} (`{avg['command']}`, {avg['averaged_at']}), over {len(avg['models'])} "
            f"models: {runs}. The figures above are the averaged model's; the command above made the last of them.")


def model_card(m):
    size = m["input"]["shape"][1]
    a = m["architecture"]
    pre = a["pretrained"]
    cal = m["calibration"]
    lines = [f"# {m['name']} v{m['version']}: model card", "",
             "Binary classifier for capcheck: is the bottle in the picture **closed** (a cap or capsule on it) or "
             "**open**? It also says how sure it is: calibrated probabilities and a `certainty_threshold` below "
             "which a verdict should be checked by eye.", "",
             "## Files", "",
             f"- `model.onnx`: {m['size_bytes']} bytes, sha256 `{m['sha256']}`, ONNX opset 17, {a['parameters']} "
             f"parameters, {a['multiply_adds_per_picture'] / 1e6:.1f} M multiply-adds per picture.",
             "- `manifest.json`: machine-readable contract, metrics and provenance.", "",
             "## Input / output contract", "",
             f"- Input `image`: `uint8`, NHWC, `[batch, {size}, {size}, 3]`, raw RGB bytes; dynamic batch.",
             "- Output `probabilities`: `float32` `[batch, 2]`, **calibrated** softmax in label order "
             "`[\"closed\", \"open\"]` (temperature scaling is inside the graph).",
             f"- Output `embedding`: `float32` `[batch, {m['embedding']['size']}]`, the penultimate features.",
             f"- Certain when the larger probability is at least `certainty_threshold` = {m['certainty_threshold']}.",
             f"- Preprocessing the caller must do: {preprocessing_text(size)}",
             f"- With sharp: `{sharp_snippet(size)}`",
             ("- The graph divides by 255 (RGB in [0, 1], what this MobileNetV2 was trained on); do not normalise."
              if pre else "- The graph normalises (`(x / 255 - mean) / std`, see the manifest); do not normalise."), "",
             "## Weights: origin and licence", ""]
    if pre:
        lines += [f"The backbone comes from the npm package **{pre['package']}** (licence **{pre['licence']}**), "
                  f"file `{pre['path']}`, read from the package tarball; nothing is downloaded at install or run "
                  f"time. {pre['origin']} Ported to PyTorch by `training/port_mobilenet.py`; the port gives the "
                  "same outputs as the package's own model in @tensorflow/tfjs (`training/prove_port.mjs`, figures "
                  "in `training/README.md`). "
                  + (f"The layers after `{a['frozen_until']}`" if a["frozen_until"] else "Every layer")
                  + " and a new 2-class head were then fine-tuned on the data below.", ""]
    else:
        lines += [f"{a['family']}: {a.get('initialised_from', '')}. All weights were trained by capcheck on the "
                  "pictures below; no third-party weights.", ""]
    lines += [
             "## Training data", "",
             f"- {m['training']['data']['synthetic']['train']['count']} synthetic pictures from "
             f"`{m['training']['data']['synthetic']['generator'].split(' (')[0]}` (seed 11): strongly randomised "
             "bottle shapes, closures, glass, "
             "labels, backgrounds, clutter that looks like caps or open mouths, camera tilt, light, blur, noise, "
             "JPEG 20-95.",
             *([extra_train_line(m["training"]["data"]["extra_train"])]
               if m["training"]["data"]["extra_train"]["pictures"] else []),
             f"- Validation (model selection, calibration, threshold): {cal['fitted_on']}.", "",
             "## Test results", "",
             "| set | pictures | accuracy | ECE before / after calibration | certain | accuracy when certain | "
             "wrong and certain |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, t in m["test_metrics"].items():
        lines.append(f"| {name} | {t['count']} | {t['accuracy'] * 100:.2f}% | {t['ece_uncalibrated']:.4f} / "
                     f"{t['ece']:.4f} | {t['certain_fraction'] * 100:.1f}% | {t['accuracy_when_certain'] * 100:.2f}% "
                     f"| {t['wrong_and_certain_fraction'] * 100:.2f}% ({t['wrong_and_certain']}) |")
    lines += ["", "ECE: expected calibration error, 15 equal-width confidence bins. `synthetic` is generate.py seed 2 "
              "in the v3 style, `synthetic_v2_style` the same scenes as v2's test set; other rows are pictures from "
              "generators that share no code with the training data:", ""]
    for name, t in m["test_metrics"].items():
        if t.get("generator"):
            lines.append(f"- `{name}`: {t['generator']}")
    lines += ["", "**Not measured on real photographs.** Photo-like path-traced renders are the closest test here.", "",
              "## Limitations", "",
              ("- Closures it was shown: crown caps, screw caps, wine screw caps, foil capsules, corks and T-corks, "
               "swing tops, PET screw and sports caps, jar lids. Cans and bottles lying down were never shown."
               if "--more-kinds" in m["training"]["data"]["synthetic"]["generator"] else
               "- Closures it knows: crown caps, screw caps, wine screw caps, foil capsules. Corks, swing tops, sports "
               "caps, cans, jars and bottles lying down were never shown."),
              "- It answers for the centred, largest bottle; a picture without a bottle still gets an answer, usually "
              "not certain.",
              "- The top of the bottle must be visible.", "",
              "## Provenance", "",
              f"- Trained {m['trained_at']} with torch {m['torch_version']} on {m['training']['threads']} CPU threads"
              + (f"; {m['training']['seconds']['training'] / 60:.1f} min training, "
                 f"{m['training']['seconds']['total'] / 60:.1f} min in all"
                 + (" (features of the frozen layers included)." if a["frozen_until"] else ".")
                 if m["training"].get("seconds") else "; times in training/README.md."),
              f"- Command: `{m['training']['command']}`",
              *([weight_average_line(m["training"]["weight_average"])] if m["training"].get("weight_average") else []),
              ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
