"""Time our int8 plan and f32 reference against ONNX Runtime (fp32 and int8)
on three models, one thread, batch 1. Run by `cargo xtask bench-peers`, which
makes the virtual environment (onnx, onnxruntime, numpy from PyPI) and builds
the `convnext` binary.

Models: the bundled default model; an atto-shaped and a tiny-shaped ConvNeXt at
224x224 with random weights of realistic magnitude (written here as HF
checkpoints: config.json, preprocessor_config.json, model.safetensors, and 32
random calibration images). The ONNX graph is built from the same safetensors
with onnx's helpers, checked against our f32 reference on the calibration
images before anything is timed, and quantized for ORT int8 as the issue
specifies: static QDQ, per-channel int8 weights, uint8 activations, only
Conv/Gemm/MatMul, percentile calibration on the model folder's calibration
images.

usage: bench_peers.py --convnext BIN --work DIR [--json] [--rounds R]
"""

import argparse
import json
import os
import struct
import subprocess
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)

MODELS = {
    "atto-224": ([40, 80, 160, 320], [2, 2, 6, 2]),
    "tiny-224": ([96, 192, 384, 768], [3, 3, 9, 3]),
}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", (name, info["dtype"])
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype="<f4").reshape(info["shape"]).copy()
    return out


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, t in tensors.items():
        b = np.ascontiguousarray(t, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def make_random_model(folder, widths, depths, seed):
    """An HF ConvNextForImageClassification checkpoint with random weights:
    trunc-normal(0.02)-like linears and convs, unit LayerNorms, layer scale 0.1
    (large enough that every block matters), 1000 classes."""
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    t = {}

    def w(*shape, std=0.02):
        return np.clip(rng.normal(0, std, shape), -2 * std, 2 * std).astype(np.float32)

    def ln(name, c):
        t[name + ".weight"] = (1 + rng.normal(0, 0.1, c)).astype(np.float32)
        t[name + ".bias"] = rng.normal(0, 0.05, c).astype(np.float32)

    p = "convnext."
    t[p + "embeddings.patch_embeddings.weight"] = w(widths[0], 3, 4, 4, std=0.1)
    t[p + "embeddings.patch_embeddings.bias"] = w(widths[0])
    ln(p + "embeddings.layernorm", widths[0])
    for s, (c, d) in enumerate(zip(widths, depths)):
        sp = f"{p}encoder.stages.{s}."
        if s > 0:
            ln(sp + "downsampling_layer.0", widths[s - 1])
            t[sp + "downsampling_layer.1.weight"] = w(c, widths[s - 1], 2, 2, std=0.05)
            t[sp + "downsampling_layer.1.bias"] = w(c)
        for b in range(d):
            bp = f"{sp}layers.{b}."
            t[bp + "dwconv.weight"] = w(c, 1, 7, 7, std=0.1)
            t[bp + "dwconv.bias"] = w(c)
            ln(bp + "layernorm", c)
            t[bp + "pwconv1.weight"] = w(4 * c, c, std=0.05)
            t[bp + "pwconv1.bias"] = w(4 * c)
            t[bp + "pwconv2.weight"] = w(c, 4 * c, std=0.05)
            t[bp + "pwconv2.bias"] = w(c)
            t[bp + "layer_scale_parameter"] = np.full(c, 0.1, np.float32)
    ln(p + "layernorm", widths[-1])
    t["classifier.weight"] = w(1000, widths[-1], std=0.05)
    t["classifier.bias"] = w(1000)
    write_safetensors(os.path.join(folder, "model.safetensors"), t)
    config = {
        "architectures": ["ConvNextForImageClassification"],
        "model_type": "convnext",
        "depths": depths,
        "hidden_sizes": widths,
        "hidden_act": "gelu",
        "num_channels": 3,
        "patch_size": 4,
        "num_stages": 4,
        "image_size": 224,
        "layer_norm_eps": 1e-12,
        "layer_scale_init_value": 1e-6,
        "id2label": {str(i): f"class_{i}" for i in range(1000)},
        "label2id": {f"class_{i}": i for i in range(1000)},
    }
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f)
    with open(os.path.join(folder, "preprocessor_config.json"), "w") as f:
        json.dump(
            {
                "crop_pct": 1.0,
                "do_normalize": True,
                "do_rescale": True,
                "do_resize": True,
                "image_mean": [0.485, 0.456, 0.406],
                "image_std": [0.229, 0.224, 0.225],
                "resample": 2,
                "rescale_factor": 1 / 255,
                "size": {"shortest_edge": 224},
            },
            f,
        )
    # Smooth random images (not white noise), so activations look natural.
    base = rng.integers(0, 256, (32, 14, 14, 3)).astype(np.float32)
    imgs = np.repeat(np.repeat(base, 16, axis=1), 16, axis=2)
    imgs = np.clip(imgs + rng.normal(0, 12, imgs.shape), 0, 255).astype(np.uint8)
    np.save(os.path.join(folder, "calibration_images.npy"), imgs)


def build_onnx(folder, path):
    """ConvNeXt (HF layout) as an ONNX graph, NCHW float input, logits out."""
    cfg = json.load(open(os.path.join(folder, "config.json")))
    t = read_safetensors(os.path.join(folder, "model.safetensors"))
    widths, depths = cfg["hidden_sizes"], cfg["depths"]
    cin, patch = cfg["num_channels"], cfg["patch_size"]
    nodes, inits = [], []
    count = [0]

    def name(p):
        count[0] += 1
        return f"{p}_{count[0]}"

    def init(n, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr, np.float32), n))
        return n

    def node(op, inputs, **attrs):
        out = name(op)
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def layer_norm_last(x, prefix, eps):
        return node(
            "LayerNormalization",
            [x, init(prefix + ".weight", t[prefix + ".weight"]), init(prefix + ".bias", t[prefix + ".bias"])],
            axis=-1,
            epsilon=eps,
        )

    def layer_norm_first(x, prefix, eps):
        y = node("Transpose", [x], perm=[0, 2, 3, 1])
        y = layer_norm_last(y, prefix, eps)
        return node("Transpose", [y], perm=[0, 3, 1, 2])

    def conv(x, prefix, stride, group=1, pad=0):
        return node(
            "Conv",
            [x, init(prefix + ".weight", t[prefix + ".weight"]), init(prefix + ".bias", t[prefix + ".bias"])],
            strides=[stride, stride],
            group=group,
            pads=[pad] * 4,
        )

    def linear(x, prefix):
        y = node("MatMul", [x, init(prefix + ".weight_t", t[prefix + ".weight"].T)])
        return node("Add", [y, init(prefix + ".bias", t[prefix + ".bias"])])

    def gelu(x):
        e = node("Erf", [node("Mul", [x, init(name("rsqrt2"), [1 / np.sqrt(2)])])])
        return node("Mul", [node("Mul", [x, init(name("half"), [0.5])]), node("Add", [e, init(name("one"), [1.0])])])

    p = "convnext."
    x = conv("pixel_values", p + "embeddings.patch_embeddings", patch)
    x = layer_norm_first(x, p + "embeddings.layernorm", 1e-6)
    for s, (c, d) in enumerate(zip(widths, depths)):
        sp = f"{p}encoder.stages.{s}."
        if s > 0:
            x = layer_norm_first(x, sp + "downsampling_layer.0", 1e-6)
            x = conv(x, sp + "downsampling_layer.1", 2)
        for b in range(d):
            bp = f"{sp}layers.{b}."
            y = conv(x, bp + "dwconv", 1, group=c, pad=3)
            y = node("Transpose", [y], perm=[0, 2, 3, 1])
            y = layer_norm_last(y, bp + "layernorm", 1e-6)
            y = gelu(linear(y, bp + "pwconv1"))
            y = linear(y, bp + "pwconv2")
            if bp + "layer_scale_parameter" in t:
                y = node("Mul", [y, init(bp + "gamma", t[bp + "layer_scale_parameter"])])
            y = node("Transpose", [y], perm=[0, 3, 1, 2])
            x = node("Add", [x, y])
    x = node("Flatten", [node("GlobalAveragePool", [x])])
    x = layer_norm_last(x, p + "layernorm", cfg.get("layer_norm_eps", 1e-12))
    w = t["classifier.weight"]
    logits = node("Gemm", [x, init("classifier.weight", w), init("classifier.bias", t["classifier.bias"])], transB=1)
    nodes.append(helper.make_node("Identity", [logits], ["logits"]))
    h = w_img = cfg.get("image_size", 224)
    graph = helper.make_graph(
        nodes,
        "convnext",
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["N", cin, h, w_img])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", w.shape[0]])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


class Reader(CalibrationDataReader):
    def __init__(self, x):
        self.rows = iter([{"pixel_values": x[i : i + 1]} for i in range(len(x))])

    def get_next(self):
        return next(self.rows, None)


def session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def time_ort(sess, x1, iterations):
    for _ in range(10):
        sess.run(None, {"pixel_values": x1})
    ts = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        sess.run(None, {"pixel_values": x1})
        ts.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(ts))


def ours(binary, folder, precision, iterations):
    out = subprocess.run(
        [binary, "bench", "--model", folder, "--precision", precision, "--iterations", str(iterations), "--json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])["median_ms"]


def cpu():
    """This machine's CPU: its model name and the SIMD flags that decide which
    kernels run (ours and ORT's), from /proc/cpuinfo."""
    model, flags = "unknown", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model == "unknown":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
    except OSError:
        pass
    wanted = ["avx2", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni"]
    return {"model": model, "flags": [f for f in wanted if f in flags]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--convnext", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--default-model", default="models/fmnist-convnext")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", default="default,atto-224,tiny-224")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    folders = {"default": a.default_model}
    for i, (m, (widths, depths)) in enumerate(MODELS.items()):
        folders[m] = os.path.join(a.work, m)
        if not os.path.exists(os.path.join(folders[m], "model.safetensors")):
            make_random_model(folders[m], widths, depths, seed=7 + i)
    rows = []
    for m in a.only.split(","):
        folder = folders[m]
        cal = os.path.join(folder, "calibration_images.npy")
        xs = os.path.join(a.work, f"{m}_pixel_values.npy")
        subprocess.run([a.convnext, "preprocess", "--model", folder, "--input", cal, "--output", xs], check=True)
        x = np.load(xs).astype(np.float32)
        fp32 = os.path.join(a.work, f"{m}.onnx")
        build_onnx(folder, fp32)
        # Check the graph against our f32 reference before timing anything.
        ref = os.path.join(a.work, f"{m}_ours_logits.npy")
        subprocess.run(
            [a.convnext, "run", "--model", folder, "--precision", "f32", "--input", xs, "--output", ref],
            check=True,
        )
        got = session(fp32).run(None, {"pixel_values": x})[0]
        want = np.load(ref)
        err = float(np.abs(got - want).max() / np.abs(want).max())
        print(f"{m}: ONNX fp32 vs our f32 reference, max relative logit error {err:.1e}", file=sys.stderr)
        if err > 1e-4:
            sys.exit(f"{m}: the ONNX graph does not match our reference ({err})")
        int8 = os.path.join(a.work, f"{m}_int8.onnx")
        quantize_static(
            fp32,
            int8,
            Reader(x),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["Conv", "Gemm", "MatMul"],
            calibrate_method=CalibrationMethod.Percentile,
        )
        x1 = x[:1]
        iters = 300 if m == "default" else 30
        sessions = {"ort_fp32": session(fp32), "ort_int8": session(int8)}
        times = {e: [] for e in ["ours_int8", "ours_f32", "ort_int8", "ort_fp32"]}
        for _ in range(a.rounds):
            times["ours_int8"].append(ours(a.convnext, folder, "int8", iters))
            times["ort_int8"].append(time_ort(sessions["ort_int8"], x1, iters))
            times["ours_f32"].append(ours(a.convnext, folder, "f32", iters))
            times["ort_fp32"].append(time_ort(sessions["ort_fp32"], x1, iters))
        for e, ts in times.items():
            rows.append({"model": m, "engine": e, "threads": 1, "median_ms": float(np.median(ts))})
    machine = cpu()
    if a.json:
        print(json.dumps({"cpu": machine, "rows": rows}))
        return
    print(f"CPU: {machine['model']}; {', '.join(machine['flags']) or 'no AVX2'}; one thread, batch 1, median of {a.rounds} rounds")
    print()
    print("| model | ours int8 | ORT int8 | ours f32 | ORT fp32 | ours int8 / ORT int8 | ours int8 / ORT fp32 |")
    print("|---|---|---|---|---|---|---|")
    for m in a.only.split(","):
        r = {x["engine"]: x["median_ms"] for x in rows if x["model"] == m}
        print(
            f"| {m} | {r['ours_int8']:.2f} ms | {r['ort_int8']:.2f} ms | {r['ours_f32']:.2f} ms | "
            f"{r['ort_fp32']:.2f} ms | {r['ours_int8'] / r['ort_int8']:.2f} | {r['ours_int8'] / r['ort_fp32']:.2f} |"
        )


if __name__ == "__main__":
    main()
