"""Peak memory of one DARTS search step on the cell supernet, with and without partial channels (PC-DARTS).

Each setting runs in a fresh process: build the relaxed ``CellSupernet``, run
one forward and backward pass of a batch, and report the process's peak
resident memory over its baseline after building (CPU; on a GPU the same
script reports ``torch.cuda.max_memory_allocated``) beside the supernet's own
``estimate_memory``.

    python benchmarks/bench_darts_memory.py
"""
import argparse
import json
import subprocess
import sys

from _common import machine_info, write_json

STEP = r"""
import json, resource, sys, torch
from skautoml.nas import CellSpace
torch.set_num_threads(1)
k, relaxation, batch, size, channels = json.loads(sys.argv[1])
space = CellSpace(n_blocks=4, n_cells=5, initial_channels=channels)
supernet = space.supernet((3, size, size), 10, partial_channels=k).relax(relaxation)
device = "cuda" if torch.cuda.is_available() else "cpu"
supernet.to(device)
x = torch.randn(batch, 3, size, size, device=device)
y = torch.randint(10, (batch,), device=device)
if device == "cuda":
    torch.cuda.reset_peak_memory_stats()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
torch.nn.functional.cross_entropy(supernet(x), y).backward()
if device == "cuda":
    peak = torch.cuda.max_memory_allocated()
else:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
print(json.dumps({"peak_bytes": peak, "estimate_bytes": supernet.estimate_memory(batch, relaxation), "device": device}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=32, help="image side (3 channels)")
    parser.add_argument("--channels", type=int, default=16, help="initial channels of the cell space")
    parser.add_argument("--out", default="benchmarks/results/darts_memory.json")
    args = parser.parse_args()
    rows = []
    for relaxation, k in [("softmax", None), ("softmax", 2), ("softmax", 4), ("gumbel", None)]:
        setting = json.dumps([k, relaxation, args.batch, args.size, args.channels])
        output = subprocess.run([sys.executable, "-c", STEP, setting], capture_output=True, text=True, check=True)
        rows.append({"relaxation": relaxation, "partial_channels": k, **json.loads(output.stdout)})
    base = rows[0]["peak_bytes"]
    print(f"{'relaxation':>10} {'k':>4} {'peak MiB':>9} {'estimate MiB':>12} {'peak / DARTS':>12}")
    for row in rows:
        print(
            f"{row['relaxation']:>10} {str(row['partial_channels']):>4} {row['peak_bytes'] / 2**20:>9.0f} "
            f"{row['estimate_bytes'] / 2**20:>12.0f} {row['peak_bytes'] / base:>12.2f}"
        )
    report = {"machine": machine_info(), "args": vars(args), "rows": rows}
    print(f"wrote {write_json(report, args.out)}")


if __name__ == "__main__":
    main()
