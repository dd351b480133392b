#!/usr/bin/env python3
"""Two looks within one budget: a `train_v3.py --pool attention --top-weight` network run twice at a smaller
side. The first view is the whole input scaled to --view px. Its attention pool's centroid says where the
bottle's top is, and the second view is a square of --crop of the input's side around that point, sampled
to --view px (grid_sample, so the crop is part of the graph). The verdict is the mean of the two views'
logits. Both views share the weights: the network learns whole pictures and close-ups of tops alike.

The crop probe (training/README.md, thirteenth run) found that v4 gains 6 points on the SVG set and 5 on
the ray-traced set from such a second look, at twice v4's multiply-adds. At --view 122 two passes cost
about what one pass at 158 px does (149 M). This script fine-tunes a thirteenth-run checkpoint that way
and reports each epoch on the --eval-set folders; --export writes an ONNX file and manifest for
eval/evaluate.mjs (with --epochs 0 and a two_view checkpoint as --weights: export that checkpoint).

  OMP_WAIT_POLICY=PASSIVE nice -n 19 /usr/bin/python3 training/two_view.py --package /tmp/package \
    --weights /tmp/capcheck-v3/mobilenet_none_158_epoch4.pt --more-kinds --train-count 16000 \
    --extra-train /tmp/capcheck-data/blender/train3 --eval-set independent=/tmp/capcheck-data/independent ...
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_v3  # noqa: E402
import v3data  # noqa: E402


class TwoView(nn.Module):
    """float NCHW pictures in 0..1 -> (mean logits, first view's logits, second view's logits, first view's
    cell log-weights, first view's feature map shape, the two views' mean embedding)."""

    def __init__(self, tail, head, view: int, crop: float):
        super().__init__()
        self.tail, self.head, self.view, self.crop = tail, head, view, crop

    def look(self, x):
        fmap = self.tail(x)
        return *self.head.classify(fmap), fmap.shape

    def crop_grid(self, log_weights, shape):
        """Sampling grid of the second view: --crop of the input's side around the attention's centroid,
        kept inside the picture (grid_sample's -1..1 coordinates)."""
        rows, cols = shape[2], shape[3]
        w = log_weights.exp().view(-1, rows, cols)
        cy = (torch.arange(rows, dtype=w.dtype) + 0.5) / rows
        cx = (torch.arange(cols, dtype=w.dtype) + 0.5) / cols
        centre = torch.stack([(w.sum(1) * cx).sum(1), (w.sum(2) * cy).sum(1)], 1) * 2 - 1  # N,2 (x, y)
        centre = centre.clamp(-1 + self.crop, 1 - self.crop)
        steps = ((torch.arange(self.view, dtype=w.dtype) + 0.5) / self.view * 2 - 1) * self.crop
        gx = steps[None, None, :] + centre[:, 0, None, None]
        gy = steps[None, :, None] + centre[:, 1, None, None]
        return torch.stack([gx.expand(-1, self.view, -1), gy.expand(-1, -1, self.view)], 3)

    def forward(self, x):
        whole = F.interpolate(x, size=(self.view, self.view), mode="bilinear", align_corners=False)
        logits1, emb1, log_weights, shape = self.look(whole)
        grid = self.crop_grid(log_weights.detach(), shape)
        close = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        logits2, emb2, _, _ = self.look(close)
        return (logits1 + logits2) / 2, logits1, logits2, log_weights, shape, (emb1 + emb2) / 2


class FromPictures(nn.Module):
    """uint8 NHWC pictures, as the service feeds a model, -> (probabilities at `temperature`, the two views'
    mean embedding): the serving contract of train_v3.Exported."""

    def __init__(self, model: TwoView, temperature=1.0):
        super().__init__()
        self.model = model
        self.register_buffer("inv_t", torch.tensor(1.0 / float(temperature)))

    def forward(self, image):
        out = self.model(image.float().div(255.0).permute(0, 3, 1, 2))
        return torch.softmax(out[0] * self.inv_t, dim=1), out[5]


def export(model: TwoView, X_va, y_va, args):
    """ONNX and manifest in --export, for evaluation by the service (eval/evaluate.mjs): temperature and
    threshold fitted as train_v3.py does, on the synthetic validation pictures (not the renders' validation
    folder); the manifest is --manifest-from's with what differs replaced, and marked a candidate."""
    model.eval()
    with torch.no_grad():
        logits = np.concatenate([model(train_v3.as_input(X_va[a : a + 64]))[0].numpy()
                                 for a in range(0, len(y_va), 64)])
    T = train_v3.fit_temperature(logits, y_va)
    threshold = train_v3.choose_threshold(y_va, train_v3.softmax(logits, T))
    os.makedirs(args.export, exist_ok=True)
    onnx_path = os.path.join(args.export, "model.onnx")
    train_v3.export_onnx(FromPictures(model, T), onnx_path, args.size)
    with open(os.path.join(args.manifest_from, "manifest.json")) as f:
        manifest = json.load(f)
    manifest.update(file="model.onnx", sha256=train_v3.sha256(onnx_path), size_bytes=os.path.getsize(onnx_path),
                    candidate=True, certainty_threshold=threshold)
    manifest["calibration"] = {"method": "temperature scaling on validation", "temperature": T}
    manifest["architecture"] = {
        "description": f"two views of one MobileNetV2 with an attention pool: the input scaled to {args.view} px, "
                       f"and a {args.crop} crop around that view's attention centroid sampled to {args.view} px "
                       "(GridSample); the views' logits averaged, then /temperature -> softmax",
        "multiply_adds_per_picture": train_v3.count_macs(FromPictures(model), args.size)}
    with open(os.path.join(args.export, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    print(f"exported to {args.export}: temperature {T:.3f}, threshold {threshold}", flush=True)


def accuracy(model, X, y, batch=64):
    model.eval()
    right = 0
    with torch.no_grad():
        for a in range(0, len(y), batch):
            logits = model(train_v3.as_input(X[a : a + batch]))[0]
            right += int((logits.argmax(1).numpy() == y[a : a + batch]).sum())
    return right / max(1, len(y))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    v3data.add_style_flag(ap)
    ap.add_argument("--package", required=True)
    ap.add_argument("--weights", required=True, help="a --pool attention run's WORKDIR/mobilenet_none_SIZE_epochN.pt")
    ap.add_argument("--size", type=int, default=158, help="the input side (the data's)")
    ap.add_argument("--view", type=int, default=122, help="each view's side")
    ap.add_argument("--crop", type=float, default=0.8, help="the second view's side, as a share of the input's")
    ap.add_argument("--workdir", default=v3data.WORKDIR)
    ap.add_argument("--train-count", type=int)
    ap.add_argument("--val-count", type=int, default=1500)
    ap.add_argument("--extra-train", action="append", default=[])
    ap.add_argument("--extra-repeat", type=int, default=4)
    ap.add_argument("--eval-set", action="append", default=[], help="NAME=DIR")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--lr-tail", type=float, default=2.5e-4)
    ap.add_argument("--top-weight", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--export", help="write model.onnx and manifest.json here after training")
    ap.add_argument("--manifest-from", help="with --export: a train_v3.py export whose manifest to start from")
    args = ap.parse_args(argv)
    v3data.use_style(args)
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    train_v3.keep_freed_memory()
    torch.manual_seed(args.seed)

    tail, head = train_v3.load_attention_net(args.package, args.weights)
    model = TwoView(tail, head, args.view, args.crop)
    if args.export and not args.manifest_from:
        ap.error("--export needs --manifest-from")
    print(f"{train_v3.count_macs(FromPictures(model), args.size)} multiply-adds per picture", flush=True)

    X, y, _ = v3data.load_set("train", args.size, args.workdir, args.train_count)
    tops = v3data.load_tops("train", args.size, args.workdir, args.train_count)
    Xs, ys, ts = [X], [y], [tops]
    for d in args.extra_train:
        Xe, ye, files = v3data.load_folder(d, args.size)
        te = v3data.folder_tops(d, files, args.size)
        Xs += [Xe] * args.extra_repeat
        ys += [ye] * args.extra_repeat
        ts += [te] * args.extra_repeat
    X, y, tops = np.concatenate(Xs), np.concatenate(ys), np.concatenate(ts)
    del Xs
    X_va, y_va, _ = v3data.load_set("val", args.size, args.workdir, args.val_count)
    evals = [(name, v3data.load_folder(d, args.size)[:2]) for name, d in (s.split("=", 1) for s in args.eval_set)]
    print(f"data: {len(y)} training pictures, {len(y_va)} validation", flush=True)

    def report(tag):
        line = f"{tag}: validation {accuracy(model, X_va, y_va) * 100:.2f} %"
        for name, (Xe, ye) in evals:
            line += f", {name} {accuracy(model, Xe, ye) * 100:.2f} %"
        print(line, flush=True)

    report("start")
    opt = torch.optim.AdamW([{"params": tail.parameters(), "lr": args.lr_tail},
                             {"params": head.parameters(), "lr": args.lr}], weight_decay=1e-4)
    steps = max(1, args.epochs * int(np.ceil(len(y) / args.batch)))  # --epochs 0: export only
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[args.lr_tail, args.lr], total_steps=steps, pct_start=0.15)
    gen = np.random.default_rng(args.seed)
    for epoch in range(1, args.epochs + 1):
        model.train()
        t0, tot, n = time.time(), 0.0, 0
        order, flips = gen.permutation(len(y)), gen.random(len(y)) < 0.5
        for a in range(0, len(order), args.batch):
            idx = np.sort(order[a : a + args.batch])
            xb = train_v3.as_input(X[idx])
            xb = torch.where(torch.from_numpy(flips[idx])[:, None, None, None], xb.flip(3), xb)
            xb = train_v3.photometric(xb, gen)
            yb = torch.from_numpy(y[idx])
            _, logits1, logits2, log_weights, shape, _ = model(xb)
            loss = F.cross_entropy(logits1, yb) + F.cross_entropy(logits2, yb)
            loss = loss + args.top_weight * train_v3.top_loss(log_weights, shape, tops[idx], flips[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot, n = tot + loss.item() * len(idx), n + len(idx)
            if (a // args.batch) % 100 == 99:
                print(f"    {n} pictures, loss {tot / n:.4f}, {time.time() - t0:.0f}s", flush=True)
        torch.save(dict(tail=tail.state_dict(), head=head.state_dict()),
                   os.path.join(args.workdir, f"two_view_{args.view}_epoch{epoch}.pt"))
        report(f"epoch {epoch} ({time.time() - t0:.0f}s)")
    if args.export:
        export(model, X_va, y_va, args)


if __name__ == "__main__":
    main()
