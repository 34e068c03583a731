"""Choosing the compute device: CUDA when present, else CPU, always overridable."""

from __future__ import annotations

import torch

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


def cpu_has_fast_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX512-BF16 or AMX); elsewhere it is emulated and slow."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The reduced precision for network passes, or None for plain float32.

    "auto" takes bfloat16 where the hardware computes it natively (CUDA with bf16 support,
    CPUs with AVX512-BF16/AMX), since it halves memory traffic and, measured, gives the same
    final losses (see benchmarks/results); float16 is offered on CUDA only.
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
    return torch.bfloat16 if cpu_has_fast_bfloat16() else None
