"""The Python door against the CLI: the same int32 logits (bit for bit),
the same float logits, the CLI's errors, and its speed.

The CLI is `target/release/convnext` of this checkout (or $CONVNEXT_CLI);
`cargo xtask python` builds it before running these.
"""

import os
import shutil
import subprocess
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest

import convnext_mcu

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "fmnist-convnext"
MODEL_V2 = ROOT / "models" / "fmnist-convnextv2"
CLI = Path(os.environ.get("CONVNEXT_CLI", ROOT / "target" / "release" / "convnext"))


def cli(*args: str) -> str:
    assert CLI.exists(), f"{CLI} is missing: build it with cargo build --release -p convnext-cli"
    out = subprocess.run([str(CLI), *args], check=True, capture_output=True, text=True)
    return out.stdout


@pytest.fixture(scope="module")
def model() -> convnext_mcu.Model:
    return convnext_mcu.Model(MODEL)


@pytest.fixture(scope="module")
def int8(model: convnext_mcu.Model) -> convnext_mcu.Int8:
    return model.int8()


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.load(MODEL / "test_images.npy")


def cli_crc(model_dir: Path) -> str:
    out = cli("eval", "--model", str(model_dir), "--precision", "int8", "--limit", "100", "--crc")
    return out.split("crc32")[1].split()[0]


@pytest.mark.parametrize("model_dir", [MODEL, MODEL_V2], ids=["v1", "v2"])
def test_int32_logits_have_the_cli_crc(model_dir: Path) -> None:
    q = convnext_mcu.Model(model_dir).int8()
    raw = q.run_raw(np.load(model_dir / "test_images.npy")[:100])
    assert raw.dtype == np.int32 and raw.shape == (100, 10)
    crc = zlib.crc32(raw.astype("<i4").tobytes())
    assert f"0x{crc:08x}" == cli_crc(model_dir)


def test_int32_and_float_logits_equal_the_cli_run(
    tmp_path: Path, model: convnext_mcu.Model, int8: convnext_mcu.Int8, images: np.ndarray
) -> None:
    batch = images[:64]
    np.save(tmp_path / "in.npy", batch)
    for precision, kind, got in [
        ("int8", "int32_logits", int8.run_raw(batch)),
        ("f32", "logits", model.run(batch)),
        ("f16", "logits", model.run(batch, precision="f16")),
    ]:
        out = tmp_path / f"{precision}.npy"
        cli("run", "--model", str(MODEL), "--input", str(tmp_path / "in.npy"),
            "--output", str(out), "--precision", precision, "--output-kind", kind)
        np.testing.assert_array_equal(got, np.load(out))
    # The float logits are the int32 ones times the scale.
    np.testing.assert_allclose(int8.run(batch), int8.run_raw(batch) * int8.logit_scale, rtol=1e-6)


def test_float_outputs_and_feature_maps(model: convnext_mcu.Model, images: np.ndarray) -> None:
    batch = images[:3]
    assert model.run(batch, output="pooler_output").shape == (3, 160)
    assert model.run(batch, output="last_hidden_state").shape == (3, 160, 3, 3)
    maps = model.feature_maps(batch, out_features=["stage1", "stage3"])
    assert {k: v.shape for k, v in maps.items()} == {
        "stage1": (3, 40, 14, 14),
        "stage3": (3, 160, 3, 3),
    }
    assert model.labels[0] == "T-shirt/top" and model.input_size == (1, 28, 28)
    assert model.config["hidden_sizes"] == [40, 80, 160]


def test_calibration_round_trip_and_compile(
    tmp_path: Path, model: convnext_mcu.Model, int8: convnext_mcu.Int8, images: np.ndarray
) -> None:
    cal = tmp_path / "cal.json"
    int8.save_calibration(cal)
    again = model.int8(calibration_file=cal)
    np.testing.assert_array_equal(again.run_raw(images[:20]), int8.run_raw(images[:20]))
    # Calibrating on an array is calibrating on the same images as a file.
    cal_images = np.load(MODEL / "calibration_images.npy")
    from_array = model.int8(calibration=cal_images[:64])
    np.save(tmp_path / "cal.npy", cal_images[:64])
    from_file = model.int8(calibration=tmp_path / "cal.npy")
    np.testing.assert_array_equal(from_array.run_raw(images[:20]), from_file.run_raw(images[:20]))
    source = Path(int8.compile(tmp_path / "gen", name="fmnist"))
    assert source.name == "fmnist.rs" and "pub fn forward" in source.read_text()
    assert int8.arena_bytes == 10440 and [o["name"] for o in int8.ops()][-1] == "head"


def test_report_is_the_cli_report(int8: convnext_mcu.Int8) -> None:
    import json

    want = json.loads(cli("report", "--model", str(MODEL), "--json"))
    got = int8.report()
    for key in ["input", "arena_bytes", "weights_bytes", "macs", "ops", "numerics"]:
        assert got[key] == want[key], key
    assert all(o["sqnr_db"] > 15 for o in got["ops"])


def test_classify(model: convnext_mcu.Model, images: np.ndarray, tmp_path: Path) -> None:
    top = convnext_mcu.classify(model, images[:2], top=2)
    assert len(top) == 2 and len(top[0]) == 2
    assert top[0][0][1] >= top[0][1][1] and top[0][0][0] in model.labels
    np.save(tmp_path / "two.npy", images[:2])
    assert convnext_mcu.classify(MODEL, tmp_path / "two.npy", top=2, precision="f32")[0][0][0] == top[0][0][0]
    # Picture files: the CLI's classify, to the printed percent.
    pictures = sorted((MODEL / "examples").glob("*.png"))
    got = convnext_mcu.classify(model, pictures, top=1)
    out = cli("classify", "--model", str(MODEL), "--precision", "int8", "--top", "1", *map(str, pictures))
    for (label, p), line in zip((g[0] for g in got), out.splitlines()):
        assert line.endswith(f": {label} {100 * p:.1f}%"), (line, label, p)
    with pytest.raises(convnext_mcu.Error, match="cannot open"):
        convnext_mcu.classify(model, tmp_path / "missing.png")


def test_errors(tmp_path: Path, model: convnext_mcu.Model, int8: convnext_mcu.Int8, images: np.ndarray) -> None:
    def raises(match: str, f, *args, **kwargs) -> None:
        with pytest.raises(convnext_mcu.Error, match=match):
            f(*args, **kwargs)

    assert issubclass(convnext_mcu.Error, ValueError)
    raises("precision", model.run, images[:1], precision="int9")
    raises("model.int8", model.run, images[:1], precision="int8")
    raises("output", model.run, images[:1], output="hidden")
    raises("NaN", model.run, np.full((1, 1, 28, 28), np.nan, dtype=np.float32))
    raises("pixel_values must be", model.run, np.zeros((28, 28), dtype=np.float32))
    raises(r"images must be \(N, H, W\)", int8.run_raw, np.zeros((28,), dtype=np.uint8))
    raises("calibrated for", int8.run_raw, np.zeros((1, 3, 32, 32), dtype=np.float32))
    raises("calibration_file", model.int8, calibration=images[:4], calibration_file=tmp_path / "x.json")
    raises("method", model.int8, method="median")
    raises("name", int8.compile, tmp_path, name="bad name")
    raises("config.json", convnext_mcu.Model, tmp_path / "missing")
    # A truncated checkpoint is refused, not read in part.
    broken = tmp_path / "broken"
    shutil.copytree(MODEL, broken, ignore=shutil.ignore_patterns("*.npy"))
    data = (broken / "model.safetensors").read_bytes()
    (broken / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(convnext_mcu.Error):
        convnext_mcu.Model(broken)


def test_float_pixel_values_into_int8_warn(model: convnext_mcu.Model, int8: convnext_mcu.Int8, images: np.ndarray) -> None:
    x = np.random.default_rng(0).normal(size=(2, 1, 28, 28)).astype(np.float32) * 3
    with pytest.warns(UserWarning, match="not u8 images"):
        int8.run(x)
    # pixel_values that are u8 images give the images' logits, silently.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # (The bundled model's processor: rescale, then mean 0.286, std 0.353.)
        exact = ((images[:2].astype(np.float32) / 255.0 - 0.286) / 0.353).astype(np.float32)
        np.testing.assert_array_equal(int8.run_raw(exact[:, None]), int8.run_raw(images[:2]))


def test_a_10k_batch_within_twice_the_cli(tmp_path: Path, model: convnext_mcu.Model, images: np.ndarray) -> None:
    np.save(tmp_path / "all.npy", images)
    t = time.perf_counter()
    cli("run", "--model", str(MODEL), "--input", str(tmp_path / "all.npy"),
        "--output", str(tmp_path / "out.npy"), "--precision", "int8", "--output-kind", "int32_logits")
    cli_s = time.perf_counter() - t
    t = time.perf_counter()
    raw = model.int8().run_raw(images)
    py_s = time.perf_counter() - t
    np.testing.assert_array_equal(raw, np.load(tmp_path / "out.npy"))
    assert py_s <= 2 * cli_s, f"python {py_s:.2f} s against the CLI's {cli_s:.2f} s"
