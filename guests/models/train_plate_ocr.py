"""Trains the plate demo's character classifier and writes guests/models/plate_ocr_int8.tflite.

Run by hand, never on a test path (TensorFlow is not a project dependency). From the checkout:

    python3 -m venv build/tf-venv
    build/tf-venv/bin/pip install tensorflow-cpu==2.21.0 pillow==13.0.0
    nice build/tf-venv/bin/python guests/models/train_plate_ocr.py

Training data are the characters of synthetic plates (build_tools/plates/synth.py, seeds other
than the held-out set's) cut out and normalised by the demo's own C code (guests/src/plates.c,
compiled natively with `cc` into build/plates/), so the model sees exactly what the pipeline
feeds it. Only the operators of the built-in int8 backend are used (CONV_2D, MAX_POOL_2D,
RESHAPE, FULLY_CONNECTED, SOFTMAX); input and output are int8, the input quantized as
q = round(x * 255) - 128 for x in [0, 1], i.e. exactly the pipeline's int8 characters.
A few minutes on two cores.
"""

from __future__ import annotations

import ctypes
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from build_tools.plates import synth  # noqa: E402  (needs only numpy and Pillow)

CHAR = 16
OUT = ROOT / "guests" / "models" / "plate_ocr_int8.tflite"
TRAIN_SEEDS = (1, 2, 3, 4)  # never synth.HELDOUT_SEED
PLATES_PER_SEED = 1500
VALIDATION_SEED = 99
EPOCHS = 12


def native_stages() -> ctypes.CDLL:
    out = ROOT / "build" / "plates" / "libplates.so"
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "cc",
            "-std=c11",
            "-O2",
            "-shared",
            "-fPIC",
            f"-I{ROOT / 'guests' / 'include'}",
            "-o",
            str(out),
            str(ROOT / "guests" / "src" / "plates.c"),
        ],
        check=True,
    )
    lib = ctypes.CDLL(str(out))
    lib.plate_chars.argtypes = [ctypes.c_char_p, ctypes.c_uint32]
    lib.plate_chars.restype = ctypes.c_int32
    lib.chars_ptr.restype = ctypes.c_void_p
    return lib


def harvest(lib: ctypes.CDLL, seed: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for i in range(count):
        p = synth.plate(seed, i)
        n = lib.plate_chars(p.pgm, len(p.pgm))
        if n != len(p.text):
            continue  # segmentation missed: no labels to align
        raw = ctypes.string_at(lib.chars_ptr(), n * CHAR * CHAR)
        chars = np.frombuffer(raw, dtype=np.int8).reshape(n, CHAR, CHAR, 1)
        xs.append(chars)
        ys += [synth.ALPHABET.index(c) for c in p.text]
    x = (np.concatenate(xs).astype(np.float32) + 128.0) / 255.0
    return x, np.array(ys, dtype=np.int32)


def build_model(tf, batch):
    classes = len(synth.ALPHABET)
    return tf.keras.Sequential(
        [
            tf.keras.Input((CHAR, CHAR, 1), batch_size=batch),
            tf.keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            tf.keras.layers.MaxPooling2D(2),
            tf.keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            tf.keras.layers.MaxPooling2D(2),
            tf.keras.layers.Conv2D(48, 3, padding="same", activation="relu"),
            tf.keras.layers.MaxPooling2D(2),
            tf.keras.layers.Flatten(),
            tf.keras.layers.Dense(classes),
            tf.keras.layers.Softmax(),
        ]
    )


def main() -> int:
    import tensorflow as tf

    tf.random.set_seed(7)
    tf.config.threading.set_intra_op_parallelism_threads(2)
    lib = native_stages()
    parts = [harvest(lib, s, PLATES_PER_SEED) for s in TRAIN_SEEDS]
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    xv, yv = harvest(lib, VALIDATION_SEED, 300)
    print(f"{len(x)} training characters, {len(xv)} validation characters", flush=True)

    model = build_model(tf, None)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(2e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    weights = ROOT / "build" / "plates" / "plate_ocr.weights.h5"
    if "--convert-only" in sys.argv:  # after a run that trained: only convert again
        model.load_weights(str(weights))
    else:
        model.fit(x, y, batch_size=128, epochs=EPOCHS, validation_data=(xv, yv), verbose=2)
        model.save_weights(str(weights))
    # Converted with a fixed batch of 1 (model and signature): a dynamic batch adds SHAPE /
    # STRIDED_SLICE / PACK in front of the RESHAPE, which the built-in backend does not have.
    single = build_model(tf, 1)
    single.set_weights(model.get_weights())
    model = single

    def representative():
        yield [np.zeros((1, CHAR, CHAR, 1), np.float32)]  # pins the input range to [0, 1]
        yield [np.ones((1, CHAR, CHAR, 1), np.float32)]
        for i in range(0, len(x), max(1, len(x) // 300)):
            yield [x[i : i + 1]]

    saved = ROOT / "build" / "plates" / "plate_ocr_savedmodel"
    model.export(str(saved), input_signature=[tf.TensorSpec((1, CHAR, CHAR, 1), tf.float32)])
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    tflite = converter.convert()

    interp = tf.lite.Interpreter(model_content=tflite)
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    scale, zero = inp["quantization"]
    assert zero == -128 and abs(scale - 1 / 255) < 1e-9, inp["quantization"]
    ops = {d["op_name"] for d in interp._get_ops_details()} - {"DELEGATE"}  # XNNPACK's node
    print("operators:", sorted(ops))
    assert ops <= {"CONV_2D", "MAX_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"}, ops
    right = 0
    for i in range(len(xv)):
        q = (np.rint(xv[i : i + 1] * 255) - 128).astype(np.int8)
        interp.set_tensor(inp["index"], q)
        interp.invoke()
        right += int(np.argmax(interp.get_tensor(out["index"])[0]) == yv[i])
    print(f"int8 model: {right}/{len(xv)} validation characters right, {len(tflite)} bytes")
    OUT.write_bytes(tflite)
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
