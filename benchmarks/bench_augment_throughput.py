"""Images per second of the image augmentation ops and policies on the CPU.

For two inputs, batch 256: digits (``load_digits().images``, 1 x 8 x 8,
float64) and random 3 x 32 x 32 float32 images. Each op runs with
``magnitude=0.5, probability=1.0`` (every image is transformed); RandAugment
with ``n_ops=2, magnitude=0.5`` and UniformAugment with ``n_ops=2``. After one
warm-up call, the batch is augmented ``--repeats`` times and the median time
per call is turned into images per second.

    python benchmarks/bench_augment_throughput.py            # ~30 s
    python benchmarks/bench_augment_throughput.py --repeats 3 --threads 2
"""
import argparse
import statistics
import time

import numpy as np
import torch
from sklearn.datasets import load_digits

from skautoml.prep.augment import _image
from skautoml.prep.augment import RandAugment, UniformAugment

from _common import machine_info, write_json  # sibling file: run as python benchmarks/<script>.py

BATCH = 256


def inputs():
    images = load_digits().images[:BATCH]  # (256, 8, 8) float64 in [0, 16]
    rand = torch.rand(BATCH, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    return {"digits_1x8x8": torch.from_numpy(images.copy()), "random_3x32x32": rand}


def augmenters():
    for op in _image.ALL_OPS:
        yield op.__name__, op(magnitude=0.5, probability=1.0)
    yield "RandAugment(n_ops=2, M=0.5)", RandAugment(n_ops=2, magnitude=0.5)
    yield "UniformAugment(n_ops=2)", UniformAugment(n_ops=2)


def images_per_second(augment, images, repeats):
    generator = torch.Generator().manual_seed(0)
    augment(images, generator)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        augment(images, generator)
        times.append(time.perf_counter() - start)
    return len(images) / statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1 gives steadier numbers on a shared machine)")
    parser.add_argument("--out", default="benchmarks/results/augment_throughput.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    data = inputs()
    rows = []
    for name, augment in augmenters():
        row = {"augmenter": name}
        for key, images in data.items():
            row[key] = images_per_second(augment, images, args.repeats)
        rows.append(row)

    keys = list(data)
    print(f"images per second, CPU ({args.threads} thread(s)), batch {BATCH}, median of {args.repeats}")
    print(f"{'augmenter':<30}" + "".join(f"{k:>18}" for k in keys))
    for row in rows:
        print(f"{row['augmenter']:<30}" + "".join(f"{row[k]:>18,.0f}" for k in keys))
    report = {
        "machine": machine_info(),
        "batch_size": BATCH,
        "repeats": args.repeats,
        "device": "cpu",
        "threads": args.threads,
        "images_per_second": rows,
        "numpy": np.__version__,
    }
    print("wrote", write_json(report, args.out))


if __name__ == "__main__":
    main()
