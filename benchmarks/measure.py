"""What every benchmark reports: the machine it ran on, and a process's resident memory over time."""

from __future__ import annotations

import os
import platform
import threading
import time

import torch


def cpu_model() -> str:
    """The CPU's model name (Linux), else what platform knows."""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


#: The vector extensions that decide a VGG step's speed on a CPU (fp32 AVX2/AVX-512, bf16 through AMX).
VECTOR_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


def vector_extensions() -> str:
    """Which of ``VECTOR_FLAGS`` the CPU has (Linux), e.g. ``avx2 avx512f amx_bf16``."""
    try:
        flags = next(line for line in open("/proc/cpuinfo") if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return "unknown"
    return " ".join(f for f in VECTOR_FLAGS if f in flags) or "none of " + "/".join(VECTOR_FLAGS)


def own_memory(field: str) -> int:
    """This process's VmRSS or VmHWM (peak) from /proc, in bytes."""
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def machine() -> str:
    """The CPU (and GPU), cores, torch and its threads: named in every results file."""
    desc = (
        f"{cpu_model()} ({vector_extensions()}), {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )
    if torch.cuda.is_available():
        desc += f"; GPU {torch.cuda.get_device_name()}"
    return desc


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB (NaN when it is gone)."""
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class Peak:
    """Peak resident memory of a process while the ``with`` block runs (sampled every 20 ms), and its time."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self.start, self.seconds = pid, 0.0, 0.0, 0.0

    def __enter__(self) -> Peak:
        self.start = self.peak = rss_mb(self.pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        self._t0 = time.perf_counter()
        return self

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.02)

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._t0
        self._stop.set()
        self._thread.join()

    @property
    def delta(self) -> float:
        """The peak above the level at the start, in MB."""
        return self.peak - self.start


def append_results(out: str | os.PathLike, text: str) -> None:
    """``text`` printed and added at the end of the results file ``out`` (earlier runs are kept)."""
    print(text)
    out = os.fspath(out)
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out, "a") as f:
        f.write(text + "\n")
    print(f"appended to {out}")
