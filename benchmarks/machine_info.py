"""What every benchmark records about the machine it ran on (results must say where)."""

from __future__ import annotations

import datetime as dt
import os
import platform

import torch


def machine() -> dict:
    return {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "date": dt.date.today().isoformat(),
        "load_average": os.getloadavg(),
    }
