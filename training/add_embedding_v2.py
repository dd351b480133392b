"""Gives v2's graph a second output, `embedding`: its penultimate features, for adapting the model.

v2 (BottleNet) averages two passes, the picture and its mirror image. Each pass ends in
concat(global average pool, global max pool), 256 values, before the linear head. `embedding` is
the mean of the two passes' vectors. Nothing else in the graph changes, so `probabilities` is the
same, bit for bit (verify_onnx_node.mjs --compare checks it).

    /usr/bin/python3 training/add_embedding_v2.py models/bottle-state/2
"""

import hashlib
import json
import sys
from pathlib import Path

import onnx
from onnx import TensorProto, helper, numpy_helper
import numpy as np


def main(folder: Path) -> None:
    model_path = folder / "model.onnx"
    model = onnx.load(str(model_path))
    graph = model.graph
    if any(o.name == "embedding" for o in graph.output):
        print("already has an embedding output")
        return
    heads = [n for n in graph.node if n.op_type == "Gemm"]
    if len(heads) != 2:
        sys.exit(f"expected the two passes' linear heads, found {len(heads)} Gemm nodes")
    features = [n.input[0] for n in heads]  # each pass's concat(avg, max) vector
    half = numpy_helper.from_array(np.array(0.5, dtype=np.float32), "embedding_half")
    graph.initializer.append(half)
    graph.node.extend(
        [
            helper.make_node("Add", features, ["embedding_sum"], name="embedding_sum"),
            helper.make_node("Mul", ["embedding_sum", "embedding_half"], ["embedding"], name="embedding_mean"),
        ]
    )
    size = heads[0].input[1]
    weight = next(i for i in graph.initializer if i.name == size)
    dims = int(weight.dims[1])  # Gemm weight [classes, features] (transB)
    graph.output.append(helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", dims]))
    onnx.checker.check_model(model)
    onnx.save(model, str(model_path))

    data = model_path.read_bytes()
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["sha256"] = hashlib.sha256(data).hexdigest()
    manifest["size_bytes"] = len(data)
    manifest["embedding"] = {
        "name": "embedding",
        "dtype": "float32",
        "shape": [None, dims],
        "size": dims,
        "description": "the penultimate features: concat(global average pool, global max pool) of the last "
        "convolution, averaged over the picture and its mirror image (the two passes of the flip test-time "
        "augmentation); the linear head reads them. Added after training (training/add_embedding_v2.py): "
        "`probabilities` is unchanged.",
    }
    manifest["verification"]["graph_outputs_added"] = ["embedding"]
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"embedding: {dims} values; sha256 {manifest['sha256']}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
