"""What machine a benchmark ran on, so every results file says it the same way."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path


def _proc_field(path: str, key: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def machine_info(**extra) -> dict:
    """CPU model and count, memory, Python, platform, date and load average (busy machines time slower),
    plus the library versions and thread counts a benchmark passes in `extra`."""
    memory_kb = _proc_field("/proc/meminfo", "MemTotal")
    return {"platform": platform.platform(),
            "cpu": _proc_field("/proc/cpuinfo", "model name") or platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "memory_gib": round(int(memory_kb.split()[0]) / 2**20, 1) if memory_kb else None,
            "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d"),
            "load_average_1_5_15": [round(x, 1) for x in os.getloadavg()],
            **extra}


def peak_rss_kib() -> int:
    """This process's own peak resident set (VmHWM), in KiB. Not `ru_maxrss`: that survives exec, so a
    child started by a big parent would report the parent's peak."""
    return int(_proc_field("/proc/self/status", "VmHWM").split()[0])
