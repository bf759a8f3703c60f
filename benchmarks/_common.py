"""Helpers shared by the benchmark scripts (run as ``python benchmarks/<script>.py``)."""
import json
import os
import platform
from pathlib import Path

import sklearn
import skorch
import torch


def machine_info():
    """What the numbers depend on: hardware, versions, threads and load when they were taken."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "load_average_1_5_15": os.getloadavg(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "skorch": skorch.__version__,
        "sklearn": sklearn.__version__,
    }


def write_json(report, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, so an interrupted run never leaves half a file.
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(report, indent=2, default=str))
    tmp.replace(path)
    return path
