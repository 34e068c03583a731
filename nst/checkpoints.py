"""Reading weights files safely: the one reader for VGG and CycleGAN weights.

``.safetensors`` needs no pickle. ``.pth``/``.pt`` files are opened with
``torch.load(weights_only=True)``, so a checkpoint that would run code when unpickled (a whole
pickled module, ``os.system`` hidden in a ``__reduce__``) is refused, never executed. Torch's
own refusal is several lines advising ``weights_only=False``, the one thing a person must not
do with a file of unknown origin, and it cannot tell a refused pickle from a damaged file; the
pickle's opcodes can, so the message here names what the file would have imported.
"""

from __future__ import annotations

import io
import os
import pickle
import pickletools
import re
import stat
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch

from .errors import WeightsError

#: What a plain state dict's pickle imports: tensor rebuilders, storages, sizes, dtypes, ordered dicts.
_PLAIN = re.compile(
    r"^(torch\._utils\._rebuild_\w+|torch\._tensor\._rebuild_\w+|torch\.\w*Storage|torch\.Size|"
    r"torch\.device|torch\.(u?int\d+|float\d+|bfloat16|bool|complex\d+|half|double)|"
    r"collections\.OrderedDict|_codecs\.encode)$"
)
#: How torch names the global it refused (its zip format).
_TORCH_REFUSED = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")


def check_file(path: str | os.PathLike, what: str) -> Path:
    """``path`` as a Path when it is a readable, non-empty regular file; else a message saying which it is not."""
    path = Path(path).expanduser()
    try:
        info = path.stat()
    except FileNotFoundError:
        raise WeightsError(f"{what} '{path}' does not exist") from None
    except OSError as exc:
        raise WeightsError(f"{what} '{path}' cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise WeightsError(f"{what} '{path}' is a folder; give the weights file itself")
    if not stat.S_ISREG(info.st_mode):
        raise WeightsError(
            f"{what} '{path}' is not a regular file (a device or a pipe?); give a weights file"
        )
    if info.st_size == 0:
        raise WeightsError(f"{what} '{path}' is empty (0 bytes); download it again")
    return path


def _pickle_bytes(path: Path) -> bytes:
    """The pickle inside a checkpoint: ``data.pkl`` of torch's zip format, or the file itself (legacy)."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith("data.pkl")]
            return archive.read(names[0]) if names else b""
    return path.read_bytes()


def imported_names(data: bytes) -> list[str]:
    """Every ``module.name`` a pickle (or a run of pickles, torch's legacy format) would import."""
    found: list[str] = []
    stream = io.BytesIO(data)
    while stream.tell() < len(data):
        strings: list[str] = []
        try:
            for op, arg, _ in pickletools.genops(stream):
                if op.name == "GLOBAL":  # protocol 2 names Python 2's module for builtins
                    found.append(str(arg).replace(" ", ".").replace("__builtin__.", "builtins."))
                elif op.name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"):
                    strings.append(str(arg))
                elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                    found.append(f"{strings[-2]}.{strings[-1]}")
        except (ValueError, EOFError, pickle.UnpicklingError, UnicodeDecodeError):
            break
    return found


def _refused_import(path: Path, error: Exception) -> str | None:
    """What the refused pickle would have imported (torch says so for its own format; a bare pickle
    is read opcode by opcode), or None when it is not a pickle at all (a damaged file)."""
    named = _TORCH_REFUSED.search(str(error))
    if named:
        return named.group(1)
    try:
        names = imported_names(_pickle_bytes(path))
    except (OSError, zipfile.BadZipFile, KeyError):
        return None
    unusual = [n for n in names if not _PLAIN.match(n)]
    return unusual[0] if unusual else None


def read_state_dict(path: str | os.PathLike, what: str = "weights file") -> dict[str, torch.Tensor]:
    """The tensors in ``path`` (``.safetensors``, or a ``torch.save`` file of a state dict), by name.

    A training checkpoint that wraps its weights as ``{"state_dict": ...}`` is unwrapped. Every
    failure is a :class:`~nst.errors.WeightsError` naming the file and the reason in one sentence.
    """
    path = check_file(path, what)
    if path.suffix.lower() == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            loaded: object = load_file(str(path), device="cpu")
        except (SafetensorError, OSError, ValueError) as exc:
            raise WeightsError(f"{what} '{path}' is not a readable safetensors file ({exc})") from exc
    else:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch warns about the pickle protocol before refusing
                loaded = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            name = _refused_import(path, exc)
            if name is None:
                raise WeightsError(
                    f"{what} '{path}' could not be read as a PyTorch checkpoint (damaged, or not "
                    "a checkpoint)"
                ) from exc
            raise WeightsError(
                f"{what} '{path}' is not a plain state dict: loading it would run code ({name}), which is refused "
                "for safety. Save only the network's state_dict() with torch.save, or convert it to .safetensors"
            ) from exc
        except (RuntimeError, OSError, EOFError, ValueError, AttributeError, zipfile.BadZipFile) as exc:
            raise WeightsError(
                f"{what} '{path}' could not be read as a PyTorch checkpoint (damaged, or not a "
                f"checkpoint: {str(exc).splitlines()[0][:200]})"
            ) from exc
    return _as_tensor_dict(loaded, path, what)


def _as_tensor_dict(loaded: object, path: Path, what: str) -> dict[str, torch.Tensor]:
    if isinstance(loaded, Mapping) and "state_dict" in loaded and isinstance(loaded["state_dict"], Mapping):
        loaded = loaded["state_dict"]
    if not isinstance(loaded, Mapping):
        raise WeightsError(f"{what} '{path}' holds a {type(loaded).__name__}, not a state dict of tensors")
    tensors: dict[str, torch.Tensor] = {}
    for key, value in loaded.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise WeightsError(
                f"{what} '{path}' is not a state dict of tensors (entry {key!r} is a {type(value).__name__})"
            )
        tensors[key] = value
    if not tensors:
        raise WeightsError(f"{what} '{path}' holds no tensors")
    return tensors


def check_finite(state: Mapping[str, torch.Tensor], source: str) -> None:
    """Refuse weights with NaN or infinite values: they would only surface later as a diverging run."""
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        shown = ", ".join(bad[:4]) + (f" and {len(bad) - 4} more" if len(bad) > 4 else "")
        raise WeightsError(f"{source} contain NaN or infinite values (in {shown}); the file is damaged")
