"""Images in and out: any file PIL reads becomes an RGB picture, then a tensor, and back.

Every odd input is either converted in a documented way or refused with an
:class:`~nst.errors.ImageError` that says why:

* EXIF orientation is applied, so photos from phones come out upright.
* Animated GIF/WebP/APNG: the first frame is used.
* Every pixel mode PIL opens becomes 8-bit RGB: grayscale, palette, CMYK (naively, without
  its ICC profile), YCbCr, LAB (PIL's ICC conversion), HSV.
* Integer pictures (modes ``I`` and ``I;16*``: 16- and 32-bit TIFFs and PNGs) are scaled, not
  clipped, and keep their exposure: the narrowest of the ranges in ``_INTEGER_RANGES`` (8-bit,
  16-bit, 31-bit, 32-bit unsigned, or 16/32-bit signed where there are negative values) that
  holds every pixel spans black to white. So 8-bit values kept in a 32-bit image (an ``L``
  image converted to ``I``) look as they did, a full-range int32 TIFF spans black to white,
  and a picture is never stretched to its own darkest and brightest pixels, which would
  brighten a dark photo. Unsigned 32-bit TIFFs are read as unsigned (PIL reads them as signed).
* Float pictures (mode ``F``) are read as 0..1, or 0..255 or 0..65535 when their brightest
  pixel shows they were saved so, and clipped to that range; NaN or infinite values have no
  colour, so such a picture is refused.
* A numpy array handed over from Python (HxW, HxWx3, HxWx4) follows the same two rules by its
  dtype; integer values beyond 32 bits are refused.
* Transparency (RGBA, LA, PA, premultiplied RGBa and La, palette with a transparent index) is
  composited onto white.
* PIL reads no TIFF with several channels of 32-bit floats or integers, or 64-bit samples:
  those are refused as unreadable.
* Undecodable, empty or truncated files, images with fewer than ``MIN_SIDE`` pixels on a
  side, more than ``MAX_INPUT_PIXELS`` pixels (decompression bombs), or an aspect ratio
  beyond ``MAX_ASPECT`` are refused.
"""

from __future__ import annotations

import errno
import io
import os
import re
import stat
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from .errors import ImageError
from .geometry import Canvas

#: Smallest accepted side of an input image, in pixels. VGG's five pooling stages need
#: something to pool; anything smaller is almost certainly a mistake (a 1x1 "image").
MIN_SIDE = 16
#: Largest accepted input, in pixels (about 8000 x 6000). Larger files are refused before
#: decoding: this is the decompression-bomb guard, and inputs are downscaled anyway.
MAX_INPUT_PIXELS = 50_000_000
#: Largest accepted ratio of long side to short side.
MAX_ASPECT = 12.0

ImageSource = str | os.PathLike | bytes | Image.Image | np.ndarray

_WHITE = (255, 255, 255)


def _describe(source: object) -> str:
    if isinstance(source, (str, os.PathLike)):
        return f"'{os.fspath(source)}'"
    return "the image"


def megapixels(pixels: int) -> str:
    """``pixels`` in megapixels, with as many decimals as it takes not to read as the limit itself."""
    for digits in range(0, 7):
        text = f"{pixels / 1e6:.{digits}f}"
        if float(text) * 1e6 != MAX_INPUT_PIXELS or pixels == MAX_INPUT_PIXELS:
            return f"{text} megapixels"
    return f"{pixels} pixels"


def _check_dims(width: int, height: int, what: str) -> None:
    if width < MIN_SIDE or height < MIN_SIDE:
        raise ImageError(
            f"{what} is {width}x{height} pixels; images must be at least {MIN_SIDE} pixels on each side"
        )
    if width * height > MAX_INPUT_PIXELS:
        raise ImageError(
            f"{what} is {width}x{height} pixels ({megapixels(width * height)}); the limit is "
            f"{megapixels(MAX_INPUT_PIXELS)}. Downscale it first"
        )
    aspect = max(width, height) / min(width, height)
    # Half a pixel of slack: a picture shrunk to a size (its short side rounded) stays accepted.
    if max(width, height) / (min(width, height) + 0.5) > MAX_ASPECT:
        raise ImageError(
            f"{what} is {width}x{height} pixels, an aspect ratio of {aspect:.1f}:1; the limit is {MAX_ASPECT:g}:1"
        )


#: Black and white points of integer pictures, narrowest first: the first range that holds every
#: pixel spans black to white (see the module docstring for why).
_INTEGER_RANGES = (
    (0, 2**8 - 1),
    (0, 2**16 - 1),
    (-(2**15), 2**15 - 1),
    (0, 2**31 - 1),
    (-(2**31), 2**31 - 1),
    (0, 2**32 - 1),
)


def _unsigned_32_bit(im: Image.Image) -> bool:
    """Whether ``im`` is a TIFF of unsigned 32-bit integers: PIL reads those into its signed mode
    ``I``, so values from 2**31 up arrive negative. (TIFF samples are unsigned unless tagged.)"""
    tags = getattr(im, "tag_v2", None)
    return im.mode == "I" and tags is not None and tags.get(258) == (32,) and tags.get(339, (1,)) == (1,)


def _not_finite(arr: np.ndarray, what: str) -> None:
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        kind = "NaN (not-a-number)" if np.isnan(arr).any() else "infinite"
        raise ImageError(
            f"{what} has {kind} pixel values, which have no colour; "
            "replace them with numbers (for example 0) and save it again"
        )


def _to_8_bit(arr: np.ndarray, what: str) -> np.ndarray:
    """Integer or float pixel values as 8-bit ones, scaled from their range (module docstring), never clipped
    to 255: the same rule for a 16/32-bit or float file and for an array handed over from Python."""
    _not_finite(arr, what)
    if arr.dtype.kind == "b":
        return arr.astype(np.uint8) * 255
    if arr.dtype.kind == "f":
        peak = float(arr.max(initial=0))
        low, high = 0.0, (1.0 if peak <= 1.0 else 255.0 if peak <= 255.0 else 65535.0)
    else:
        darkest, brightest = int(arr.min(initial=0)), int(arr.max(initial=0))
        fits = [(lo, hi) for lo, hi in _INTEGER_RANGES if lo <= darkest and brightest <= hi]
        if not fits:
            raise ImageError(f"{what} has pixel values from {darkest} to {brightest}, beyond 32 bits")
        low, high = fits[0]
    grey = np.clip((arr.astype(np.float64) - low) / (high - low), 0.0, 1.0)
    return np.rint(grey * 255.0).astype(np.uint8)


def _high_bit_depth_to_rgb(im: Image.Image, what: str) -> Image.Image:
    """Scale 16/32-bit integer and float single-channel images into 8 bits instead of clipping."""
    arr = np.asarray(im)
    if _unsigned_32_bit(im):
        arr = arr.view(np.uint32)
    return Image.fromarray(_to_8_bit(arr, what), mode="L").convert("RGB")


def to_rgb(im: Image.Image, what: str = "the image") -> Image.Image:
    """Convert any PIL mode to 8-bit RGB, compositing transparency onto white.

    ``what`` names the image in the message that refuses a float picture with NaN or infinity.
    """
    if im.mode == "RGB":
        return im
    if im.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        return _high_bit_depth_to_rgb(im, what)
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        # PIL converts premultiplied La only to LA.
        rgba = (im.convert("LA") if im.mode == "La" else im).convert("RGBA")
        background = Image.new("RGBA", rgba.size, _WHITE + (255,))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return im.convert("RGB")


def _from_array(arr: np.ndarray) -> Image.Image:
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ImageError(f"an image array must be HxW, HxWx3 or HxWx4; got shape {tuple(arr.shape)}")
    if arr.dtype != np.uint8:
        arr = _to_8_bit(arr, "the image array")
    return Image.fromarray(arr)


def _shrunk(im: Image.Image, max_size: int | None) -> Image.Image:
    """``im`` with its long side at most ``max_size``, never enlarged, and its short side never
    shrunk under ``MIN_SIDE`` (a panorama stays usable; the run decides what its size allows)."""
    canvas = Canvas.of(im)
    if max_size is None or canvas.size <= max_size:
        return im
    target = canvas.fit(max_size)
    if target.short < MIN_SIDE:
        scale = MIN_SIDE / canvas.short
        if scale >= 1:
            return im
        target = Canvas(max(MIN_SIDE, round(im.width * scale)), max(MIN_SIDE, round(im.height * scale)))
    return im.resize(target, Image.Resampling.LANCZOS)


def _open_path(source: str | os.PathLike, name: str) -> Path:
    path = Path(source)
    try:
        info = path.stat()
    except OSError:
        raise ImageError(f"{name}: no such file") from None
    if stat.S_ISDIR(info.st_mode):
        raise ImageError(f"{name} is a folder, not an image file")
    if not stat.S_ISREG(info.st_mode):
        raise ImageError(f"{name} is not a regular file (a device or a pipe?), not an image file")
    if info.st_size == 0:
        raise ImageError(f"{name} is empty (0 bytes)")
    return path


def load_image(source: ImageSource, what: str | None = None, max_size: int | None = None) -> Image.Image:
    """Read an image from a path, raw bytes, a PIL image or an array, as 8-bit RGB.

    ``what`` names the image in error messages (``"content image"``, ``"style image"``), so a
    person knows which of their uploads was wrong. ``max_size`` shrinks the picture as soon as
    it is decoded, so an input far larger than a run needs never stays in memory at full size
    (JPEGs are even decoded at a reduced scale).
    """
    name = what or _describe(source)
    if isinstance(source, np.ndarray):
        im = _from_array(source)
        _check_dims(*im.size, name)
        return _shrunk(to_rgb(im, name), max_size)
    if isinstance(source, Image.Image):
        _check_dims(*source.size, name)
        source.load()
        # exif_transpose copies even an upright image, and a copy loses the TIFF tags to_rgb reads.
        upright = source.getexif().get(ExifTags.Base.Orientation, 1) == 1
        turned = source if upright else ImageOps.exif_transpose(source) or source
        return _shrunk(to_rgb(turned, name), max_size)
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise ImageError(f"{name} is empty (0 bytes)")
        fp: object = io.BytesIO(source)
    elif isinstance(source, (str, os.PathLike)):
        fp = _open_path(source, name)
    else:
        raise ImageError(
            f"cannot read an image from a {type(source).__name__}; give a file path, bytes or a PIL image"
        )
    try:
        with warnings.catch_warnings():
            # PIL warns about damaged metadata ("Corrupt EXIF data") before the file is refused or
            # read anyway; the outcome is what matters, so its warnings stay quiet (the CLI prints
            # one line), except the decompression-bomb warning, which refuses the file.
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(fp) as im:  # type: ignore[arg-type]
                _check_dims(*im.size, name)
                if getattr(im, "is_animated", False):
                    im.seek(0)
                if max_size is not None and im.format == "JPEG":
                    # Decode at 1/2, 1/4 or 1/8 scale when both sides stay at least max_size (so the
                    # long side does whichever way EXIF rotates the picture).
                    im.draft("RGB", (max_size, max_size))
                im.load()
                # In place: a copy would lose the TIFF tags that to_rgb reads.
                ImageOps.exif_transpose(im, in_place=True)
                rgb = _shrunk(to_rgb(im, name), max_size)
                rgb.load()
                return rgb.copy()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f" ({int(found.group(1)) / 1e6:.0f} megapixels)" if found else ""
        raise ImageError(
            f"{name} is too large{size}; the limit is {MAX_INPUT_PIXELS / 1e6:.0f} megapixels "
            "(refused before decoding, as a possible decompression bomb). Downscale it first"
        ) from exc
    except UnidentifiedImageError as exc:
        raise ImageError(
            f"{name} is not an image file that can be read (unknown or unsupported format)"
        ) from exc
    except (
        OSError,
        ValueError,
        SyntaxError,
        EOFError,
    ) as exc:  # truncated / corrupt data inside a known format
        raise ImageError(f"{name} could not be decoded; the file looks damaged or truncated ({exc})") from exc


def resize_to(im: Image.Image, canvas: Canvas) -> Image.Image:
    """``im`` resized to ``canvas`` (Lanczos); unchanged when it has that shape already."""
    return im if Canvas.of(im) == canvas else im.resize(canvas, Image.Resampling.LANCZOS)


def image_to_tensor(im: Image.Image, device: torch.device | str | None = None) -> torch.Tensor:
    """An RGB PIL image as a float tensor of shape (1, 3, H, W) with values in [0, 1]."""
    arr = np.asarray(to_rgb(im), dtype=np.uint8)
    t = torch.from_numpy(arr.copy()).permute(2, 0, 1).unsqueeze(0).float().div_(255.0).contiguous()
    return t.to(device) if device is not None else t


def tensor_to_image(t: torch.Tensor) -> Image.Image:
    """A (1, 3, H, W) or (3, H, W) tensor in [0, 1] as an RGB PIL image.

    Values are clamped to [0, 1] and rounded to the nearest 8-bit level (not truncated), so an
    image that went through :func:`image_to_tensor` comes back bit-identical.
    """
    if t.dim() == 4:
        if t.shape[0] != 1:
            raise ValueError(f"expected a single image, got a batch of {t.shape[0]}")
        t = t[0]
    if t.dim() != 3 or t.shape[0] != 3:
        raise ValueError(f"expected a (3, H, W) tensor, got shape {tuple(t.shape)}")
    arr = t.detach().float().clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(arr, mode="RGB")


_SAVE_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}


def check_save_path(
    path: str | os.PathLike,
    inputs: Sequence[ImageSource | None] = (),
    formats: Mapping[str, str] = _SAVE_FORMATS,
) -> str:
    """The format for ``path`` (PIL's, or from ``formats`` by suffix: a video's); refuses, before any work
    is done, a path that cannot be written or that is one of ``inputs`` (a result written over its own
    photo destroys it)."""
    path = Path(path)
    if path.is_dir():
        example = path / f"out{next(iter(formats))}"
        raise ImageError(f"cannot save '{path}': it is a folder; give a file name such as {example}")
    fmt = formats.get(path.suffix.lower())
    if fmt is None:
        raise ImageError(f"cannot save '{path}': use one of {', '.join(sorted(formats))} as the file suffix")
    folder = path.parent
    if not folder.is_dir():
        raise ImageError(f"cannot save '{path}': folder '{folder}' does not exist")
    if path.exists() and not path.is_file():
        raise ImageError(f"cannot save '{path}': it is not a regular file")
    target = os.path.realpath(path)
    for source in inputs:
        if isinstance(source, (str, os.PathLike)) and os.path.realpath(source) == target:
            raise ImageError(
                f"cannot save '{path}': it is one of the input images ('{os.fspath(source)}'), "
                "which the result would overwrite; choose another output file"
            )
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".nst-", suffix=".tmp"):
            pass
    except OSError as exc:
        why = _NOT_WRITABLE.get(exc.errno or 0, "the system does not let files be made there")
        raise ImageError(f"cannot save '{path}': {why} (folder '{folder}'); choose another folder") from None
    return fmt


#: Why a file cannot be made in a folder, by errno, in words (``/proc`` answers ENOENT).
_NOT_WRITABLE = {
    errno.EACCES: "you have no permission to write in that folder",
    errno.EPERM: "you have no permission to write in that folder",
    errno.EROFS: "that folder is on a read-only file system",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "your disk quota is used up",
}


def _new_file_mode(path: Path) -> int:
    """The permissions ``path`` has now, or those a new file gets (a temporary file starts at 0600)."""
    if path.exists():
        return stat.S_IMODE(path.stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def save_image(image: Image.Image | torch.Tensor, path: str | os.PathLike) -> Path:
    """Save a result; the format follows the suffix (PNG is lossless and the default choice).

    The picture is written to a temporary file beside ``path`` and renamed into place, so a
    failed save never leaves a half-written file, nor destroys what was there before.
    """
    path = Path(path)
    fmt = check_save_path(path)
    im = tensor_to_image(image) if isinstance(image, torch.Tensor) else to_rgb(image)
    kwargs = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".nst-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            im.save(f, format=fmt, **kwargs)
        os.chmod(temp, _new_file_mode(path))
        os.replace(temp, path)
    except OSError as exc:
        raise ImageError(f"cannot save '{path}': {exc}") from exc
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    return path
