"""CPU seconds of a training step, an inference pass and a batch-norm recalibration, images channels-first against channels-last.

On one thread, for six sampled architectures and the known-good network of
each space: ``CNNSpace(max_layers=4, channels=(16, 32))`` at 1x28x28 (the
space of bench_oneshot.py) and the default image space
(``default_image_space``) at 1x28x28 and 3x32x32. A batch of 64 random
images; a training step is AdamW on the cross-entropy (5 timed after 2),
inference 5 passes without gradients, recalibration ``recalibrate_batch_norm``
on 256 images. Channels-last converts the network's convolution weights (as
``Evaluator`` does on the CPU) and the input.

    python benchmarks/bench_channels_last.py
"""
import argparse
import time

import numpy as np
import torch
from torch import nn

from _common import machine_info, write_json
from skautoml.nas import CNNSpace, default_image_space
from skautoml.nas._plan import known_good_architecture
from skautoml.nas.oneshot import recalibrate_batch_norm

LAYOUTS = {"channels-first": torch.contiguous_format, "channels-last": torch.channels_last}


def seconds(space, shape, layout):
    architectures = [space.sample(np.random.default_rng(i)) for i in range(6)] + [known_good_architecture(space)]
    X, y = torch.randn(64, *shape).contiguous(memory_format=layout), torch.randint(0, 10, (64,))
    step = inference = calibration = 0.0
    for architecture in architectures:
        torch.manual_seed(0)
        network = space.build(architecture, shape, 10).to(memory_format=layout)
        optimizer = torch.optim.AdamW(network.parameters())
        for i in range(7):
            if i == 2:
                started = time.process_time()
            optimizer.zero_grad()
            nn.functional.cross_entropy(network(X), y).backward()
            optimizer.step()
        step += (time.process_time() - started) / 5
        network.eval()
        started = time.process_time()
        with torch.no_grad():
            for _ in range(5):
                network(X)
        inference += (time.process_time() - started) / 5
        started = time.process_time()
        recalibrate_batch_norm(network, torch.cat([X] * 4))
        calibration += time.process_time() - started
    n = len(architectures)
    return {"train_step": step / n, "inference_64": inference / n, "calibration_256": calibration / n}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="benchmarks/results/channels_last.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cases = [
        ("CNNSpace(4, (16, 32))", (1, 28, 28), CNNSpace(max_layers=4, channels=(16, 32))),
        ("default", (1, 28, 28), default_image_space((1, 28, 28))),
        ("default", (3, 32, 32), default_image_space((3, 32, 32))),
    ]
    rows = []
    print(f"{'space':>22} {'image':>8} {'part':>16} {'first s':>8} {'last s':>8} {'speed-up':>8}")
    for name, shape, space in cases:
        first, last = (seconds(space, shape, layout) for layout in LAYOUTS.values())
        for part in first:
            rows.append({"space": name, "image": "x".join(map(str, shape)), "part": part,
                         "channels_first": first[part], "channels_last": last[part], "speed_up": first[part] / last[part]})
            row = rows[-1]
            print(f"{name:>22} {row['image']:>8} {part:>16} {first[part]:>8.4f} {last[part]:>8.4f} {row['speed_up']:>8.2f}")
    path = write_json({"machine": machine_info(), "rows": rows}, args.out)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
