#!/usr/bin/env python3
"""Data for bottle-state v3: strongly randomised synthetic pictures (generate.py --strong), rendered in
chunks of 500 by several processes and cached as .npz in --workdir, plus picture folders (Blender
renders, the independent set) letterboxed like the service does.

  # render the v3 training, validation and test pictures (resumable: finished chunks are kept)
  nice -n 19 /usr/bin/python3 training/v3data.py --size 144 --workers 2

Chunk file names carry seed, first index, count, size, style and a hash of generate.py, so a changed
generator never reuses stale pictures. Picture i of seed S is the same at any chunking. A chunk also keeps
where each picture's labelled top is (`top_xy`, load_tops), the target of train_v3.py --top-weight.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import generate  # noqa: E402
from preprocess import letterbox_box, load_image  # noqa: E402

LABELS = list(generate.LABELS)
CHUNK = 500
WORKDIR = "/tmp/capcheck-v3"
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")

# The v3 synthetic sets: (name, seed, count, strong). Train and validation use seeds of their own; the
# test sets are seed 2 as for v1/v2 (the v2-style one is the same scenes v2 was tested on).
SETS = {
    "val": (12, 2000, True),
    "train": (11, 30000, True),
    "test_strong": (2, 2000, True),
    "test_v2style": (2, 2000, False),
}


def _ghash():
    with open(generate.__file__, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:12]


# True: generate.py --strong, the data v3 was trained on; 2: --strong --more-kinds (set by --more-kinds)
STRONG = True


def add_style_flag(ap):
    """--more-kinds, for every script that reads the strong sets; use_style(args) applies it."""
    ap.add_argument("--more-kinds", action="store_true",
                    help="the strong sets drawn with generate.py --strong --more-kinds")


def use_style(args):
    global STRONG
    STRONG = 2 if args.more_kinds else True


def chunk_path(workdir, seed, start, count, size, strong):
    style = "strong2" if strong == 2 else "strong" if strong else "v2"
    return os.path.join(workdir, f"synth_{style}_s{seed}_i{start}_n{count}_{size}_{_ghash()}.npz")


def _render_chunk(job):
    workdir, seed, start, count, size, strong = job
    path = chunk_path(workdir, seed, start, count, size, strong)
    if os.path.exists(path):
        return path, 0.0
    t0 = time.time()
    X, y, metas, tops = generate.generate_arrays(count, seed, size, start=start, strong=strong)
    np.savez(path + ".part.npz", X=X, y=y, metas=json.dumps(metas), top_xy=top_centroids(tops))
    os.replace(path + ".part.npz", path)
    return path, time.time() - t0


def top_centroids(tops: np.ndarray) -> np.ndarray:
    """float32 [N,2]: the centre of each picture's labelled top (its closure or open lip in generate.py's top
    maps, values 1 and 2) as 0..1 of the width and height; NaN where the top is hidden."""
    size = tops.shape[1]
    out = np.full((len(tops), 2), np.nan, np.float32)
    for i, top in enumerate(tops):
        ys, xs = np.nonzero((top == 1) | (top == 2))
        if len(xs):
            out[i] = ((xs.mean() + 0.5) / size, (ys.mean() + 0.5) / size)
    return out


def jobs_for(name, size, workdir, count=None):
    seed, n, strong = SETS[name]
    n = count or n
    strong = STRONG if strong else False
    return [(workdir, seed, a, min(CHUNK, n - a), size, strong) for a in range(0, n, CHUNK)]


def render(names, size, workdir, workers, counts=None):
    os.makedirs(workdir, exist_ok=True)
    jobs = [j for name in names for j in jobs_for(name, size, workdir, (counts or {}).get(name))]
    t0 = time.time()
    if workers > 1:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(workers) as pool:
            for k, (path, sec) in enumerate(pool.imap(_render_chunk, jobs)):
                print(f"  [{k + 1}/{len(jobs)}] {os.path.basename(path)} {sec:.0f}s (total {time.time() - t0:.0f}s)",
                      flush=True)
    else:
        for k, job in enumerate(jobs):
            path, sec = _render_chunk(job)
            print(f"  [{k + 1}/{len(jobs)}] {os.path.basename(path)} {sec:.0f}s", flush=True)


def _chunks(name, size, workdir, count=None, only_existing=False):
    """The set's chunk files, loaded in order (rendered first where missing, unless only_existing)."""
    for job in jobs_for(name, size, workdir, count):
        path = chunk_path(*job)
        if not os.path.exists(path):
            if only_existing:
                continue
            _render_chunk(job)
        yield np.load(path, allow_pickle=False)


def load_set(name, size, workdir, count=None, only_existing=False):
    """(X uint8 [N,S,S,3], y int64 [N], metas) of a synthetic set; only_existing takes the finished chunks
    (training may start while rendering goes on)."""
    Xs, ys, metas = [], [], []
    for z in _chunks(name, size, workdir, count, only_existing):
        Xs.append(z["X"])
        ys.append(z["y"])
        metas += json.loads(str(z["metas"]))
    if not Xs:
        return np.zeros((0, size, size, 3), np.uint8), np.zeros((0,), np.int64), []
    return np.concatenate(Xs), np.concatenate(ys), metas


def load_tops(name, size, workdir, count=None, only_existing=False):
    """float32 [N,2]: the tops' centres (top_centroids) of the pictures load_set gives, NaN for chunks rendered
    before the centres were kept."""
    parts = [z["top_xy"] if "top_xy" in z.files else np.full((len(z["y"]), 2), np.nan, np.float32)
             for z in _chunks(name, size, workdir, count, only_existing)]
    return np.concatenate(parts) if parts else np.zeros((0, 2), np.float32)


def folder_tops(root, files, size):
    """float32 [N,2]: where the labelled bottle's top is on the model's input (0..1, through the letterbox),
    for picture files of `root` whose labels.jsonl records a `top_xy` (Blender's renders); NaN otherwise."""
    from PIL import Image

    recorded = {}
    log = os.path.join(root, "labels.jsonl")
    if os.path.exists(log):
        with open(log) as f:
            for line in f:
                info = json.loads(line)
                if "top_xy" in info:
                    recorded[os.path.normpath(os.path.join(root, info["file"]))] = info["top_xy"]
    out = np.full((len(files), 2), np.nan, np.float32)
    for i, f in enumerate(files):
        xy = recorded.get(os.path.normpath(f))
        if xy is None or not (0 <= xy[0] <= 1 and 0 <= xy[1] <= 1):
            continue
        with Image.open(f) as img:
            left, top, nw, nh = letterbox_box(*img.size, size)
        out[i] = ((left + xy[0] * nw) / size, (top + xy[1] * nh) / size)
    return out


def load_folder(root, size):
    """root/closed/* and root/open/* letterboxed to size (the service's preprocessing). Returns X, y, files."""
    files, labels = [], []
    for li, lab in enumerate(LABELS):
        d = os.path.join(root, lab)
        if not os.path.isdir(d):
            continue
        for n in sorted(os.listdir(d)):
            if n.lower().endswith(IMAGE_EXTS):
                files.append(os.path.join(d, n))
                labels.append(li)
    X = np.empty((len(files), size, size, 3), np.uint8)
    keep = []
    for i, f in enumerate(files):
        try:
            X[i] = load_image(f, size)
            keep.append(i)
        except Exception as e:  # a half-written render or unreadable file: skip, but say so
            print(f"  skipping {f}: {e}")
    keep = np.asarray(keep, np.int64)
    return X[keep], np.asarray(labels, np.int64)[keep], [files[i] for i in keep]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_style_flag(ap)
    ap.add_argument("--size", type=int, default=144)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--workdir", default=WORKDIR)
    ap.add_argument("--sets", default=",".join(SETS), help="comma-separated subset of " + ",".join(SETS))
    ap.add_argument("--train-count", type=int, help="render only the first N training pictures")
    ap.add_argument("--val-count", type=int, help="render only the first N validation pictures")
    args = ap.parse_args(argv)
    use_style(args)
    counts = {k: v for k, v in (("train", args.train_count), ("val", args.val_count)) if v}
    render(args.sets.split(","), args.size, args.workdir, args.workers, counts)


if __name__ == "__main__":
    main()
