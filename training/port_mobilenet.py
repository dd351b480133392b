#!/usr/bin/env python3
"""Port the MobileNetV2 that ships inside the npm package nsfwjs@4.4.0 (MIT) to PyTorch.

The weights come only from the package tarball, nothing is downloaded at run time:

  cd /tmp && npm pack nsfwjs@4.4.0 && tar xzf nsfwjs-4.4.0.tgz
  # -> /tmp/package/dist/models/mobilenet_v2/{model.min.js,group1-shard1of1.min.js}

The package bundles a TF.js "layers" model (Keras 2.2.4 functional graph, 224x224x3 input scaled to
[0,1]) as two UMD JavaScript files: `model.min.js` holds the model.json object (topology and weights
manifest) as a JavaScript object literal, `group1-shard1of1.min.js` holds the weight shard as a base64
string. The weights are quantised to uint8 (value = q * scale + min). This module reads those files
(or a hosted `model.json` + binary shards), rebuilds the Keras graph layer by layer in torch
(Conv2D, DepthwiseConv2D, BatchNormalization, ReLU6, ZeroPadding2D, Add, pooling, Dense) and loads the
dequantised weights. `prove_port.mjs` checks it against the package's own JS model.

  python3 training/port_mobilenet.py --package /tmp/package --out /tmp/mobilenet_v2_nsfwjs.pt
  python3 training/port_mobilenet.py --package /tmp/package --images a.jpg b.jpg   # prints the 5 class scores
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

PACKAGE = "nsfwjs@4.4.0"
MODEL_SUBDIR = os.path.join("dist", "models", "mobilenet_v2")
# The 5 classes of nsfwjs' own head (README "Library API"); only used by the port proof.
NSFW_CLASSES = ["Drawing", "Hentai", "Neutral", "Porn", "Sexy"]
# Last layer of the convolutional backbone (MobileNetV2's 1280-channel 1x1 conv + ReLU6).
BACKBONE_END = "out_relu"


# ------------------------------------------------------------------ reading the package files


def _js_object(text: str, start: int) -> str:
    """The balanced {...} starting at text[start] (braces inside string literals are skipped)."""
    depth, i, quote = 0, start, None
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
        i += 1
    raise ValueError("unbalanced JavaScript object literal")


def _js_literal_to_json(obj: str) -> dict:
    """Minified JS object literal -> dict: quote bare keys, !0/!1 -> true/false, .5 -> 0.5.

    Safe for this file: its strings are layer names, class names and dtypes (no ':' or ',' inside)."""
    obj = re.sub(r"(?<=[{,])([A-Za-z_$][\w$]*):", r'"\1":', obj)
    obj = re.sub(r"!0\b", "true", obj)
    obj = re.sub(r"!1\b", "false", obj)
    obj = re.sub(r"(?<=[:,\[-])\.(?=\d)", "0.", obj)  # .999 -> 0.999
    return json.loads(obj)


def read_bundled_model(model_dir: str) -> tuple[dict, list[bytes]]:
    """model.json dict and weight shard bytes from nsfwjs' bundled `*.min.js` files, or from a hosted
    `model.json` + binary shards in the same folder."""
    hosted = os.path.join(model_dir, "model.json")
    if os.path.exists(hosted):
        with open(hosted) as f:
            model = json.load(f)
        shards = []
        for group in model["weightsManifest"]:
            for p in group["paths"]:
                with open(os.path.join(model_dir, p), "rb") as f:
                    shards.append(f.read())
        return model, shards
    with open(os.path.join(model_dir, "model.min.js")) as f:
        text = f.read()
    start = text.index("exports=", text.index("{1:[function")) + len("exports=")
    model = _js_literal_to_json(_js_object(text, start))
    shards = []
    for group in model["weightsManifest"]:
        for p in group["paths"]:
            with open(os.path.join(model_dir, p + ".min.js")) as f:
                js = f.read()
            literal = max(re.findall(r'"([A-Za-z0-9+/=]{1000,})"', js), key=len)
            shards.append(base64.b64decode(literal))
    return model, shards


_DTYPES = {"float32": np.float32, "int32": np.int32, "uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}


def decode_weights(model: dict, shards: list[bytes]) -> dict[str, np.ndarray]:
    """Weights manifest + shards -> {name: float32 array in Keras layout}, dequantising uint8/uint16."""
    out: dict[str, np.ndarray] = {}
    for group, data in zip(model["weightsManifest"], _group_buffers(model, shards)):
        offset = 0
        for w in group["weights"]:
            shape = tuple(w["shape"])
            n = int(np.prod(shape)) if shape else 1
            q = w.get("quantization")
            dtype = _DTYPES[q["dtype"] if q else w["dtype"]]
            size = n * np.dtype(dtype).itemsize
            raw = np.frombuffer(data, dtype, n, offset)
            offset += size
            if q and q["dtype"] in ("uint8", "uint16"):
                arr = raw.astype(np.float32) * np.float32(q["scale"]) + np.float32(q["min"])
            else:
                arr = raw.astype(np.float32)
            out[w["name"]] = arr.reshape(shape)
        if offset != len(data):
            raise ValueError(f"weight group uses {offset} of {len(data)} bytes")
    return out


def _group_buffers(model, shards):
    i = 0
    for group in model["weightsManifest"]:
        k = len(group["paths"])
        yield b"".join(shards[i : i + k])
        i += k


# ------------------------------------------------------------------ the Keras graph in torch


def _key(name: str) -> str:
    return name.replace(".", "_").replace("/", "_")


class SamePad(nn.Module):
    """Keras padding='same' (extra pixel at the bottom/right for even totals) for a strided conv."""

    def __init__(self, k: int, s: int):
        super().__init__()
        self.k, self.s = k, s

    def forward(self, x):
        def pads(n):
            total = max((-(-n // self.s) - 1) * self.s + self.k - n, 0)
            return total // 2, total - total // 2

        (t, b), (l, r) = pads(x.shape[2]), pads(x.shape[3])
        return F.pad(x, (l, r, t, b))


def _conv(cfg: dict, w: dict[str, np.ndarray], depthwise: bool) -> nn.Module:
    name = cfg["name"]
    if depthwise:
        kernel = w[f"{name}/depthwise_kernel"]  # [kh, kw, in, mult]
        kh, kw, cin, mult = kernel.shape
        cout, groups = cin * mult, cin
        weight = kernel.transpose(2, 3, 0, 1).reshape(cout, 1, kh, kw)
    else:
        kernel = w[f"{name}/kernel"]  # [kh, kw, in, out]
        kh, kw, cin, cout = kernel.shape
        groups = 1
        weight = kernel.transpose(3, 2, 0, 1)
    sh, sw = cfg["strides"]
    if tuple(cfg.get("dilation_rate", (1, 1))) != (1, 1):
        raise ValueError(f"{name}: dilation not supported")
    pre = nn.Identity()
    padding = 0
    if cfg["padding"] == "same":
        if (sh, sw) == (1, 1) and kh % 2 and kw % 2:
            padding = (kh // 2, kw // 2)
        elif kh == kw and sh == sw:
            pre = SamePad(kh, sh)
        else:
            raise ValueError(f"{name}: unsupported 'same' padding")
    conv = nn.Conv2d(cin, cout, (kh, kw), (sh, sw), padding, groups=groups, bias=cfg.get("use_bias", False))
    conv.weight.data = torch.from_numpy(np.ascontiguousarray(weight))
    if cfg.get("use_bias"):
        conv.bias.data = torch.from_numpy(w[f"{name}/bias"].copy())
    return nn.Sequential(pre, conv, _activation(cfg.get("activation", "linear"), name))


def _activation(act: str, name: str) -> nn.Module:
    if act == "linear":
        return nn.Identity()
    if act == "relu":
        return nn.ReLU()
    if act == "softmax":
        return nn.Softmax(dim=1)
    raise ValueError(f"{name}: activation {act} not supported")


def _batchnorm(cfg: dict, w: dict[str, np.ndarray]) -> nn.Module:
    name = cfg["name"]
    mean = w[f"{name}/moving_mean"]
    bn = nn.BatchNorm2d(len(mean), eps=cfg["epsilon"], momentum=1 - cfg["momentum"])
    bn.running_mean.data = torch.from_numpy(mean.copy())
    bn.running_var.data = torch.from_numpy(w[f"{name}/moving_variance"].copy())
    bn.weight.data = torch.from_numpy(w[f"{name}/gamma"].copy()) if cfg.get("scale", True) else torch.ones(len(mean))
    bn.bias.data = torch.from_numpy(w[f"{name}/beta"].copy()) if cfg.get("center", True) else torch.zeros(len(mean))
    return bn


def _relu(cfg: dict) -> nn.Module:
    if cfg.get("negative_slope", 0) or cfg.get("threshold", 0):
        raise ValueError(f"{cfg['name']}: leaky/thresholded ReLU not supported")
    mx = cfg.get("max_value")
    return nn.ReLU() if mx is None else nn.Hardtanh(0.0, float(mx))


class Dense(nn.Module):
    def __init__(self, cfg, w):
        super().__init__()
        kernel = w[f"{cfg['name']}/kernel"]  # [in, out]
        self.linear = nn.Linear(*kernel.shape, bias=cfg.get("use_bias", True))
        self.linear.weight.data = torch.from_numpy(kernel.T.copy())
        if cfg.get("use_bias", True):
            self.linear.bias.data = torch.from_numpy(w[f"{cfg['name']}/bias"].copy())
        self.act = _activation(cfg.get("activation", "linear"), cfg["name"])

    def forward(self, x):
        return self.act(self.linear(x))


class Flatten(nn.Module):
    """Keras Flatten of a channels_last tensor (our tensors are NCHW, so go through NHWC)."""

    def forward(self, x):
        return x.permute(0, 2, 3, 1).flatten(1) if x.dim() == 4 else x.flatten(1)


def _layer(class_name: str, cfg: dict, w: dict[str, np.ndarray]) -> nn.Module | None:
    """torch module for one Keras layer; None for Add (handled by the graph)."""
    if class_name == "InputLayer":
        return nn.Identity()
    if class_name == "ZeroPadding2D":
        (t, b), (l, r) = cfg["padding"]
        return nn.ZeroPad2d((l, r, t, b))
    if class_name in ("Conv2D", "DepthwiseConv2D"):
        return _conv(cfg, w, class_name == "DepthwiseConv2D")
    if class_name == "BatchNormalization":
        return _batchnorm(cfg, w)
    if class_name == "ReLU":
        return _relu(cfg)
    if class_name == "Add":
        return None
    if class_name == "AveragePooling2D":
        if cfg["padding"] != "valid":
            raise ValueError("AveragePooling2D: only 'valid' padding")
        return nn.AvgPool2d(cfg["pool_size"], cfg["strides"])
    if class_name == "GlobalAveragePooling2D":
        return nn.AdaptiveAvgPool2d(1)
    if class_name == "Flatten":
        return Flatten()
    if class_name == "Dropout":
        return nn.Dropout(cfg["rate"])
    if class_name == "Dense":
        return Dense(cfg, w)
    raise ValueError(f"Keras layer {class_name} not supported")


class KerasGraph(nn.Module):
    """A Keras functional model (one input, one output) rebuilt in torch. Input NCHW float.

    `until` cuts the graph after that layer (its output is the graph's output)."""

    def __init__(self, model: dict, weights: dict[str, np.ndarray], until: str | None = None):
        super().__init__()
        layers = model["modelTopology"]["model_config"]["config"]["layers"]
        self.order: list[tuple[str, str, list[str]]] = []  # (key, class_name, input keys)
        self.blocks = nn.ModuleDict()
        used = set()
        for layer in layers:
            key = _key(layer["name"])
            inbound = [_key(n[0]) for node in layer.get("inbound_nodes", []) for n in node]
            mod = _layer(layer["class_name"], layer["config"], weights)
            if mod is not None:
                self.blocks[key] = mod
            self.order.append((key, layer["class_name"], inbound))
            used.update(_weight_names(layer))
            if layer["name"] == until:
                break
        else:
            if until is not None:
                raise ValueError(f"no layer named {until}")
        missing = used - set(weights)
        if missing:
            raise ValueError(f"weights missing for {sorted(missing)[:5]}")
        self.output_key = self.order[-1][0]
        # last use of each value, so intermediate tensors can be freed while running
        self.last_use = {}
        for i, (_, _, inbound) in enumerate(self.order):
            for k in inbound:
                self.last_use[k] = i

    def forward(self, x):
        values = {}
        for i, (key, cls, inbound) in enumerate(self.order):
            if cls == "InputLayer":
                y = x
            elif cls == "Add":
                y = values[inbound[0]]
                for k in inbound[1:]:
                    y = y + values[k]
            else:
                y = self.blocks[key](values[inbound[0]])
            values[key] = y
            for k in inbound:
                if self.last_use[k] == i and k != key:
                    values.pop(k, None)
        return values[self.output_key]


def fold_batchnorms(graph: KerasGraph) -> KerasGraph:
    """Merge each BatchNormalization into the convolution feeding it (inference only, in place).

    Frozen layers then cost one conv instead of conv + BN pass over memory; same function to float
    rounding. ReLU6 layers become in-place."""
    producers = {key: cls for key, cls, _ in graph.order}
    for key, cls, inbound in graph.order:
        if cls == "ReLU" and isinstance(graph.blocks[key], nn.Hardtanh):
            graph.blocks[key].inplace = True
        if cls != "BatchNormalization" or producers.get(inbound[0]) not in ("Conv2D", "DepthwiseConv2D"):
            continue
        seq = graph.blocks[inbound[0]]
        conv, bn = seq[1], graph.blocks[key]
        if not isinstance(seq[2], nn.Identity):
            continue
        scale = bn.weight.data / torch.sqrt(bn.running_var + bn.eps)
        bias = conv.bias.data if conv.bias is not None else torch.zeros_like(bn.running_mean)
        folded = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                           groups=conv.groups, bias=True)
        folded.weight.data = conv.weight.data * scale[:, None, None, None]
        folded.bias.data = (bias - bn.running_mean) * scale + bn.bias.data
        seq[1] = folded
        graph.blocks[key] = nn.Identity()
    return graph


def _weight_names(layer) -> list[str]:
    name, cls, cfg = layer["name"], layer["class_name"], layer["config"]
    if cls == "Conv2D":
        return [f"{name}/kernel"] + ([f"{name}/bias"] if cfg.get("use_bias") else [])
    if cls == "DepthwiseConv2D":
        return [f"{name}/depthwise_kernel"] + ([f"{name}/bias"] if cfg.get("use_bias") else [])
    if cls == "BatchNormalization":
        return [f"{name}/moving_mean", f"{name}/moving_variance"]
    if cls == "Dense":
        return [f"{name}/kernel"]
    return []


def load_package_model(package_dir: str, until: str | None = None) -> KerasGraph:
    """The package's MobileNetV2 as a torch module (eval mode). until=BACKBONE_END gives the backbone."""
    model, shards = read_bundled_model(os.path.join(package_dir, MODEL_SUBDIR))
    net = KerasGraph(model, decode_weights(model, shards), until)
    return net.eval()


def package_version(package_dir: str) -> str:
    with open(os.path.join(package_dir, "package.json")) as f:
        p = json.load(f)
    return f"{p['name']}@{p['version']}"


def nsfwjs_input(path: str, size: int = 224) -> np.ndarray:
    """What the proof feeds both implementations: the picture decoded to RGB and resized to size x size
    (PIL bilinear) here, so the JS side gets identical pixels (it reads the same .rgb bytes)."""
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB").resize((size, size), Image.BILINEAR), np.uint8)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--package", required=True, help="the unpacked nsfwjs tarball (folder with package.json)")
    ap.add_argument("--out", help="write the backbone's state_dict here (torch.save)")
    ap.add_argument("--images", nargs="*", default=[], help="print the full model's 5 class scores for these")
    ap.add_argument("--dump-rgb", help="with --images: write the 224x224 RGB bytes of each and torch.json (scores, features) here")
    args = ap.parse_args(argv)
    version = package_version(args.package)
    if version != PACKAGE:
        print(f"warning: ported from {version}, expected {PACKAGE}")
    if args.out:
        backbone = load_package_model(args.package, until=BACKBONE_END)
        torch.save(backbone.state_dict(), args.out)
        print(f"backbone ({sum(p.numel() for p in backbone.parameters())} parameters) -> {args.out}")
    if args.images:
        full = load_package_model(args.package)
        backbone = load_package_model(args.package, until=BACKBONE_END)
        results = []
        for path in args.images:
            rgb = nsfwjs_input(path)
            if args.dump_rgb:
                os.makedirs(args.dump_rgb, exist_ok=True)
                rgb.tofile(os.path.join(args.dump_rgb, os.path.basename(path) + ".rgb"))
            x = torch.from_numpy(rgb.copy()).float().div(255).permute(2, 0, 1)[None]
            with torch.no_grad():
                scores = full(x)[0]
                features = backbone(x).mean((2, 3))[0]
            results.append(
                {
                    "file": os.path.basename(path) + ".rgb",
                    "scores": scores.tolist(),
                    "features": features.tolist(),  # out_relu, averaged over the 7x7 grid
                }
            )
        if args.dump_rgb:
            with open(os.path.join(args.dump_rgb, "torch.json"), "w") as f:
                json.dump(results, f)
        for r in results:
            print(r["file"], dict(zip(NSFW_CLASSES, (round(v, 4) for v in r["scores"]))))

if __name__ == "__main__":
    main()
