"""How well a per-operation latency table predicts the measured latency of whole networks (issue 12, benchmark (b)).

For each case (a space and a sample shape) and batch size: 50 architectures
sampled from the space; each is priced by a fresh :class:`LatencyTable`
(which times every operation it has not seen, alone) and then timed whole by
``measure_latency``. The table prices them twice: as the plain sum of its
operations, and calibrated (``LatencyTable.calibrate`` on 10 other networks
of the space, timed whole). Reported for both: the relative error
|predicted - measured| / measured (median, mean, 90th percentile), and
Kendall's tau between predicted and measured; then the seconds the table took
to build (operations and calibration), and the seconds to price 1,000
candidates from the built table (what a strategy pays per candidate). One
torch thread. Numbers are reported, never asserted.

    python benchmarks/bench_latency_table.py                  # about 5 min on 2 cores
    python benchmarks/bench_latency_table.py --n-architectures 10 --batch-sizes 1 --out /tmp/latency.json
"""
import argparse
import time

import numpy as np
import torch
from scipy.stats import kendalltau

from skautoml.nas import CNNSpace, LatencyTable, MLPSpace, architecture_cost, measure_latency

from _common import machine_info, write_json  # sibling file: run as python benchmarks/<script>.py

CASES = {
    "cnn_1x28x28": (lambda: CNNSpace(stem_stride=2), (1, 28, 28)),
    "cnn_3x32x32": (lambda: CNNSpace(stem_stride=2), (3, 32, 32)),
    "mlp_64": (lambda: MLPSpace(), (64,)),
}


def run_case(name, batch_size, n_architectures, seed=0):
    make_space, shape = CASES[name]
    space = make_space()
    rng = np.random.default_rng(seed)
    architectures = [space.sample(rng) for _ in range(n_architectures)]
    table = LatencyTable(batch_size=batch_size, n_threads=1, cache_dir=False)
    started = time.perf_counter()
    summed = [architecture_cost(space, a, shape, 10, latency_table=table).latency_ms for a in architectures]
    table.calibrate(space, shape, 10, n_networks=10, random_state=seed + 1)
    build_seconds = time.perf_counter() - started
    predicted = [architecture_cost(space, a, shape, 10, latency_table=table).latency_ms for a in architectures]
    measured = [
        measure_latency(space.build(a, shape, 10), shape, batch_size=batch_size, n_threads=1) for a in architectures
    ]
    started = time.perf_counter()
    n_priced = 0
    while n_priced < 1000:
        architecture_cost(space, architectures[n_priced % len(architectures)], shape, 10, latency_table=table)
        n_priced += 1
    price_seconds = time.perf_counter() - started
    measured = np.array(measured)
    row = {"case": name, "batch_size": batch_size, "n_architectures": n_architectures,
           "n_operations": len(table.entries), "calibration": list(table.calibration)}
    for label, values in (("sum", np.array(summed)), ("calibrated", np.array(predicted))):
        error = np.abs(values - measured) / measured
        row[label] = {
            "relative_error_median": float(np.median(error)),
            "relative_error_mean": float(np.mean(error)),
            "relative_error_p90": float(np.quantile(error, 0.9)),
            "predicted_over_measured_median": float(np.median(values / measured)),
            "kendall_tau": float(kendalltau(values, measured).statistic),
            "predicted_ms": values.tolist(),
        }
    return {**row, "table_build_seconds": build_seconds, "seconds_per_1000_prices": price_seconds,
            "measured_ms": measured.tolist()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=list(CASES))
    parser.add_argument("--batch-sizes", type=int, nargs="*", default=[1, 64])
    parser.add_argument("--n-architectures", type=int, default=50)
    parser.add_argument("--out", default="benchmarks/results/latency_table.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    print(f"{'case':12} {'batch':>5} {'ops':>4} {'price':>10} {'err median':>10} {'err mean':>9} {'err p90':>8} "
          f"{'pred/meas':>9} {'tau':>5} {'build s':>8} {'s/1000':>7}")
    for name in args.cases:
        for batch_size in args.batch_sizes:
            row = run_case(name, batch_size, args.n_architectures)
            rows.append(row)
            for label in ("sum", "calibrated"):
                r = row[label]
                print(
                    f"{name:12} {batch_size:>5} {row['n_operations']:>4} {label:>10} "
                    f"{r['relative_error_median']:>10.3f} {r['relative_error_mean']:>9.3f} {r['relative_error_p90']:>8.3f} "
                    f"{r['predicted_over_measured_median']:>9.2f} {r['kendall_tau']:>5.2f} "
                    f"{row['table_build_seconds']:>8.1f} {row['seconds_per_1000_prices']:>7.1f}",
                    flush=True,
                )
    write_json({"rows": rows, "machine": machine_info()}, args.out)


if __name__ == "__main__":
    main()
