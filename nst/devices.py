"""Choosing the compute device: CUDA when present, else CPU, always overridable."""

from __future__ import annotations

import functools
import math
from time import perf_counter

import torch
import torch.nn.functional as F

from .errors import SettingsError


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """Return the device to run on.

    ``None`` or ``"auto"`` means CUDA when available, else CPU. An explicit device is checked
    so that asking for CUDA on a machine without it fails with a message, not deep in torch.
    """
    if device is None or (isinstance(device, str) and device.strip().lower() in ("", "auto")):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise SettingsError(
            f"device: {device!r} is not a device name (use 'auto', 'cpu', 'cuda' or 'cuda:N')"
        ) from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise SettingsError(
                f"device: {device!r} was asked for but CUDA is not available on this machine; use --device cpu"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise SettingsError(
                f"device: {device!r} does not exist; this machine has {torch.cuda.device_count()} CUDA device(s)"
            )
    elif dev.type == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise SettingsError(
                f"device: {device!r} was asked for but MPS is not available; use --device cpu"
            )
    elif dev.type != "cpu":
        raise SettingsError(f"device: {device!r} is not supported (use 'auto', 'cpu', 'cuda' or 'mps')")
    return dev


@functools.cache
def cpu_bfloat16_is_faster() -> bool:
    """Whether bfloat16 convolutions beat float32 on this CPU, measured once per process (about 0.1 s).

    With AMX, bfloat16 is taken without timing: VGG's passes ran 2.0-2.4x faster than float32 on a
    2-core Xeon with AMX (benchmarks/results/time-to-picture-cpu.md), while the timing, taken as the
    app starts with its main thread busy, chose float32 there: every run of that server came out at
    float32's speed (7.0 s against 3.8 s, benchmarks/results/gpu-app-cpu.md), and beside a busy Python
    thread the timing chose float32 in 1 of 4 tries. AVX512-BF16 alone does not tell: bfloat16 ran CycleGAN 1.8x
    faster than float32 on an AMD EPYC, and VGG steps 1.5x slower on an Intel Xeon without AMX
    (benchmarks/results/peers-cpu.md). There, one 3x3 convolution at VGG's middle width is timed
    forward and backward both ways, interleaved, best of five; bfloat16 must win by 10 %.
    """
    if bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()):
        return True
    if not bool(getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)()):
        return False
    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(128, 128, 3, 3, generator=generator) * 0.03
    x = torch.randn(1, 128, 64, 64, generator=generator)
    best = {torch.float32: math.inf, torch.bfloat16: math.inf}
    for _ in range(5):
        for dtype in best:
            w = weight.clone().requires_grad_()
            start = perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
                y = F.conv2d(x, w, padding=1)
            y.float().square().mean().backward()
            best[dtype] = min(best[dtype], perf_counter() - start)
    return best[torch.bfloat16] < 0.9 * best[torch.float32]


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The reduced precision for network passes, or None for plain float32.

    "auto" takes bfloat16 on CUDA with bf16 support and on CPUs where it is measured faster
    (:func:`cpu_bfloat16_is_faster`): it halves memory traffic and, measured, gives the same final
    losses (see benchmarks/results); float16 is offered on CUDA only.
    """
    if precision == "fp32" or device.type not in ("cpu", "cuda"):
        return None
    if precision == "fp16":
        if device.type != "cuda":
            raise SettingsError("precision: fp16 needs a CUDA device; use bf16 or fp32 on the CPU")
        return torch.float16
    if precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_bfloat16_is_faster() else None
