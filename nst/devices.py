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
        raise SettingsError(f"device: {device!r} is not a device name (use 'auto', 'cpu', 'cuda' or 'cuda:N')") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise SettingsError(f"device: {device!r} was asked for but CUDA is not available on this machine; use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise SettingsError(f"device: {device!r} does not exist; this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif dev.type == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise SettingsError(f"device: {device!r} was asked for but MPS is not available; use --device cpu")
    elif dev.type != "cpu":
        raise SettingsError(f"device: {device!r} is not supported (use 'auto', 'cpu', 'cuda' or 'mps')")
    return dev
