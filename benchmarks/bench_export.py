"""Inference latency of an exported network (TorchScript, ONNX Runtime) against the estimator's ``predict``.

One ``AutoNASClassifier`` is fitted per model (the known-good architecture
of each space, trained briefly: latency does not depend on the weights): an MLP on the
30 features of breast_cancer and the known-good CNN on digits upscaled to
28x28. Each is exported to TorchScript and ONNX, and the median of
``--repeats`` calls is timed per batch of 1 and of 256, in one process, after
warm-up calls; all on ``--threads`` threads. Numbers are reported, never
asserted.

    python benchmarks/bench_export.py               # about 1 min on 2 cores
"""
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer

from _common import machine_info, write_json
from _images import digits_images
from skautoml import AutoNASClassifier, export
from skautoml.nas import CNNSpace, MLPSpace, SuccessiveHalving, known_good_architecture


def median_seconds(call, repeats):
    for _ in range(3):
        call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/results/export.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = args.threads
    X_table, y_table = load_breast_cancer(return_X_y=True)
    X_images, y_images = digits_images(28)
    cases = {
        "mlp (breast_cancer, 30 features)": (MLPSpace(), X_table, y_table),
        "cnn (digits 28x28)": (CNNSpace(stem_stride=2), X_images, y_images),
    }
    rows = []
    folder = Path(tempfile.mkdtemp())
    for name, (space, X, y) in cases.items():
        # One trial: the space's known-good architecture (latency does not depend on the weights).
        first = SuccessiveHalving(min_resource=1, n_configs=1, initial_architectures=(known_good_architecture(space),))
        clf = AutoNASClassifier(search_space=space, strategy=first, max_trials=1, max_epochs=2, random_state=0)
        clf.fit(X, y)
        script = torch.jit.load(str(export(clf, folder / "model.pt")))
        session = onnxruntime.InferenceSession(str(export(clf, folder / "model.onnx", format="onnx")), options)
        for batch in (1, 256):
            rows_in = np.ascontiguousarray(np.resize(X, (batch, *X.shape[1:])).astype(np.float32))
            tensor = torch.as_tensor(rows_in)

            def run_script():
                with torch.no_grad():
                    return script(tensor)

            seconds = {
                "predict": median_seconds(lambda: clf.predict(rows_in), args.repeats),
                "torchscript": median_seconds(run_script, args.repeats),
                "onnxruntime": median_seconds(lambda: session.run(["probabilities"], {"input": rows_in}), args.repeats),
            }
            rows.append({"model": name, "architecture": str(clf.best_architecture_), "batch": batch,
                         **{f"{k}_ms": 1000 * v for k, v in seconds.items()}})
    print(f"{'model':34} {'batch':>5} {'predict ms':>11} {'TorchScript ms':>15} {'ONNX Runtime ms':>16}"
          f" {'predict / TS':>13} {'predict / ORT':>14}")
    for row in rows:
        print(
            f"{row['model']:34} {row['batch']:>5} {row['predict_ms']:>11.3f} {row['torchscript_ms']:>15.3f} "
            f"{row['onnxruntime_ms']:>16.3f} {row['predict_ms'] / row['torchscript_ms']:>13.1f} "
            f"{row['predict_ms'] / row['onnxruntime_ms']:>14.1f}"
        )
    print("wrote", write_json({"args": vars(args), "machine": machine_info(), "rows": rows}, args.out))


if __name__ == "__main__":
    main()
