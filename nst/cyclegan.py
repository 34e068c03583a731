"""CycleGAN style transfer: a photo becomes a painting in one forward pass of a pretrained generator.

Public API:

* :func:`paint` / :func:`paint_batch`: content image(s) in, PIL image(s) of exactly the same
  size out.
* :func:`load_generator`: the network of a catalogue painter (or a local file), cached in
  memory per painter, device and precision; loaded on first use, never at import.
* :func:`painters`: the catalogue (see :mod:`nst.catalogue`).

Two knobs change the look:

* **strength** (0..1) blends the painting with the photo: 0 returns the input unchanged
  (bit for bit, without running the network), 1 the generator's output, 0.5 an even mix.
* **brush scale** (1..4) runs the generator on the photo shrunk by that factor and enlarges
  the result: the generator paints strokes of a fixed size in *its* pixels, so at scale 2
  every stroke covers twice as many pixels of the output (coarser, more painterly; also
  about scale² times faster).

Any size works: the image is reflection-padded to the multiple of 4 the network needs and
cropped back. Above ``tile_size`` pixels on a side it is processed in overlapping tiles so
memory stays bounded; see :func:`_run_tiled` for how tiles are blended and how far tiled
results can differ from whole-image ones (instance norm works on the statistics of what it
sees, so a tile's tone can differ a little from the same region painted whole).
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from . import catalogue
from .catalogue import Painter
from .checkpoints import check_file
from .checks import as_float
from .devices import cpu_bfloat16_is_faster, pick_device
from .downloads import offline
from .errors import ResourceError, SettingsError, WeightsError, shown
from .generator import SIZE_MULTIPLE, ResnetGenerator, load_generator_file, norm_stats
from .geometry import Canvas
from .images import ImageSource, image_to_tensor, load_image, resize_to, tensor_to_image
from .inputs import DEFAULT_PAINTER, DEFAULT_TILE_SIZE, MAX_BRUSH_SCALE, MIN_WORK_SIDE
from .model_cache import ModelCache

#: Overlap between neighbouring tiles, and the band along each inner tile edge that is
#: dropped (the tile lacks its real neighbours there). With the real vintage generator, whole-image
#: statistics and a 32 px margin, tiles match the whole image to within 0.1 of an 8-bit
#: level; the rest of the overlap (192 px) is a linear blend hiding tone differences.
TILE_OVERLAP = 256
TILE_MARGIN = 32
#: Smallest tile accepted (the overlap is capped at a third of the tile, see _run_tiled).
MIN_TILE_SIZE = 64
#: At most this many generators stay in memory (each ~45 MB in float32); least recent goes.
_CACHE: ModelCache[ResnetGenerator] = ModelCache(limit=4)

Progress = Callable[[int, int], None]


def painters(available_only: bool = False) -> list[Painter]:
    """The catalogue, in display order (``available_only``: those with a source, on the Hub or on disk)."""
    return catalogue.entries(available_only)


# ----------------------------------------------------------------------------- weights


def _person(entry: Painter) -> str:
    return f"the {entry.display_name} painter ({entry.name}) is not installed on this server"


def _missing_message(entry: Painter, why: str) -> str:
    from huggingface_hub import constants

    where = "Space" if entry.repo_type == "space" else entry.repo_type
    return (
        f"CycleGAN weights for painter {entry.name!r} are missing: {entry.filename} from {where} {entry.repo_id} "
        f"(revision {entry.revision or 'main'}) {why}. To pre-fill the Hugging Face cache ({constants.HF_HUB_CACHE}), "
        f"run on a machine with internet: {entry.download_command()} (set HF_HUB_CACHE to use another cache folder, "
        f"and copy that folder here); or give a local generator file: NST_CYCLEGAN_{entry.name.upper()}_FILE="
        f"/absolute/path.safetensors for the app, --weights FILE for the CLI"
    )


def weights_file(painter: str) -> Path:
    """Local path of a catalogue painter's weights: its local file, or its Hub file, downloaded into the
    Hub cache when needed and allowed (:func:`nst.downloads.offline`).

    Offline, a pre-filled cache is used and nothing else is tried; a missing file raises
    :class:`~nst.errors.WeightsError` saying how to fill the cache, at once.
    """
    entry = catalogue.get_entry(painter)
    if entry.local_file is not None:
        return check_file(entry.local_file, f"NST_CYCLEGAN_{entry.name.upper()}_FILE")
    if not entry.available:
        raise WeightsError(
            f"painter {entry.name!r} ({entry.display_name}) has no confirmed source: {entry.source}; "
            "or pass a local generator file with --weights FILE",
            person=_person(entry),
        )
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    assert entry.repo_id and entry.filename
    cut_off = offline()
    try:
        return Path(
            hf_hub_download(
                entry.repo_id,
                entry.filename,
                repo_type=entry.repo_type,
                revision=entry.revision,
                local_files_only=cut_off,
            )
        )
    except LocalEntryNotFoundError as exc:
        why = (
            "this machine is offline (NST_OFFLINE, HF_HUB_OFFLINE, or no network)"
            if cut_off
            else "the Hub cannot be reached"
        )
        raise WeightsError(
            _missing_message(entry, f"is not in the cache and {why}"), person=_person(entry)
        ) from exc
    except (RepositoryNotFoundError, RevisionNotFoundError, EntryNotFoundError) as exc:
        raise WeightsError(
            _missing_message(
                entry,
                f"was not found on the Hub ({type(exc).__name__}); the repo may have moved, "
                f"point the entry elsewhere with NST_CYCLEGAN_{entry.name.upper()}_REPO",
            ),
            person=_person(entry),
        ) from exc
    except Exception as exc:  # HTTP errors, dropped connections (httpx transport errors), disk errors
        raise WeightsError(
            _missing_message(entry, f"could not be downloaded ({type(exc).__name__}: {exc})"),
            person=_person(entry),
        ) from exc


def clear_cache() -> None:
    """Forget every loaded generator (frees their memory)."""
    _CACHE.clear()


_PRECISIONS = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "full": torch.float32,
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
}


def resolve_dtype(device: torch.device, precision: str = "auto") -> torch.dtype:
    """The dtype the generator runs in.

    ``auto`` is float16 on CUDA (half the memory, several times faster), bfloat16 on CPUs where it
    is measured faster (about 1.8x faster than float32 on an AMD EPYC with AVX512-BF16; with
    the real vintage generator at 512 px, pixels move by 0.17 of an 8-bit level on average and
    1.4 at most), float32 elsewhere.
    float16 is refused on CPUs, where its convolutions are slow or missing.
    """
    key = str(precision).strip().lower()
    if key == "auto":
        if device.type == "cuda":
            return torch.float16
        if device.type == "cpu" and cpu_bfloat16_is_faster():
            return torch.bfloat16
        return torch.float32
    if key not in _PRECISIONS:
        raise SettingsError(f"precision: {shown(precision)} is not one of auto, float32, float16, bfloat16")
    dtype = _PRECISIONS[key]
    if dtype == torch.float16 and device.type == "cpu":
        raise SettingsError(
            "precision: float16 is only supported on GPUs; use float32 or bfloat16 on the CPU"
        )
    return dtype


def load_generator(
    painter: str = DEFAULT_PAINTER,
    weights: str | os.PathLike | None = None,
    device: str | torch.device | None = None,
    precision: str = "auto",
) -> ResnetGenerator:
    """The generator of a catalogue ``painter``, or of a local ``weights`` file, ready to run.

    Loaded on first use and kept in memory per (painter or file, device, dtype). ``weights``
    (a ``.pth`` or ``.safetensors`` path) is for the Python API and the CLI; servers pass
    catalogue names only, so a client can never make them unpickle a file of its choosing.
    """
    dev = pick_device(device)
    dtype = resolve_dtype(dev, precision)
    if weights is not None:
        path = check_file(weights, "weights file")
        stat = path.stat()
        source: tuple = ("file", str(path.resolve()), stat.st_mtime_ns, stat.st_size)
        expected = None
    else:
        entry = catalogue.get_entry(painter)
        source = (
            "catalogue",
            entry.name,
            entry.local_file,
            entry.repo_id,
            entry.repo_type,
            entry.filename,
            entry.revision,
        )
        expected = entry.options

    def load() -> ResnetGenerator:
        path_ = Path(weights).expanduser() if weights is not None else weights_file(painter)
        net = load_generator_file(path_, expected)
        # channels_last: oneDNN (CPU) and cuDNN (GPU) convolutions run faster on NHWC tensors.
        return net.to(device=dev, dtype=dtype, memory_format=torch.channels_last)

    return _CACHE.get((source, str(dev), dtype), load)


# ----------------------------------------------------------------------------- settings


def check_options(strength: Any, brush_scale: Any, tile_size: Any = None) -> tuple[float, float]:
    """``strength`` and ``brush_scale`` as numbers in range (and ``tile_size`` checked), or a
    SettingsError naming the one that is not."""
    if tile_size is not None and (not isinstance(tile_size, numbers.Integral) or tile_size < MIN_TILE_SIZE):
        raise SettingsError(
            f"tile_size: {shown(tile_size)} must be a whole number of pixels, at least {MIN_TILE_SIZE}"
        )
    return as_float(strength, "strength", 0.0, 1.0), as_float(
        brush_scale, "brush_scale", 1.0, MAX_BRUSH_SCALE
    )


def work_canvas(canvas: Canvas, brush_scale: float) -> Canvas:
    """The shape the generator paints at: the image's shrunk by ``brush_scale``.

    The scale is capped so the short side stays at least ``MIN_WORK_SIDE`` px.
    """
    scale = max(1.0, min(brush_scale, canvas.short / MIN_WORK_SIDE))
    return Canvas(round(canvas.width / scale), round(canvas.height / scale))


def load_photo(source: ImageSource, max_size: int | None = None, what: str = "content image") -> Image.Image:
    """The photo to paint, shrunk as it is decoded so its long side is at most ``max_size`` px (a whole
    number checked by the caller, :class:`~nst.requests.PaintRequest`).

    A ``max_size`` that would leave the short side under ``MIN_WORK_SIDE`` is refused by name
    (the upload itself is fine).
    """
    image = load_image(source, what, max_size)
    canvas = Canvas.of(image)
    if max_size is not None and canvas.size > max_size:  # the loader kept the short side usable
        shrunk = canvas.fit(max_size)
        needed = math.ceil(max_size * MIN_WORK_SIDE / shrunk.short)
        raise SettingsError(
            f"max_size: {max_size} px shrinks this photo to {shrunk.width}x{shrunk.height} px, under "
            f"{MIN_WORK_SIDE} px on its short side; use a max_size of at least {needed}"
        )
    return image


# ----------------------------------------------------------------------------- running


def _plan(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of ``tile`` px covering ``length`` with at least ``overlap`` px shared.

    Starts are multiples of 4 so every tile is aligned with the network's quarter-resolution grid.
    """
    if length <= tile:
        return [0]
    n = math.ceil((length - overlap) / (tile - overlap))
    return [round(i * (length - tile) / (n - 1) / SIZE_MULTIPLE) * SIZE_MULTIPLE for i in range(n)]


def _blend_weights(starts: list[int], size: int, margin: int) -> list[torch.Tensor]:
    """1-D blend weights per tile; at every position the weights of all tiles sum to 1.

    Between two neighbours the weight ramps linearly across a band centred in their overlap;
    within ``margin`` px of a tile edge that has a neighbour the tile's weight is exactly 0,
    so pixels computed without their real surroundings never reach the output.
    """
    if len(starts) == 1:
        return [torch.ones(size, dtype=torch.float64)]
    cuts = [(b + (a + size - b) / 2, a + size - b) for a, b in zip(starts, starts[1:])]
    half = min(ov / 2 - margin for _, ov in cuts)
    half = min([half] + [(c2 - c1) / 2 for (c1, _), (c2, _) in zip(cuts, cuts[1:])])
    half = max(half, 0.5)
    weights = []
    for i, start in enumerate(starts):
        pos = torch.arange(start, start + size, dtype=torch.float64) + 0.5
        w = torch.ones(size, dtype=torch.float64)
        if i > 0:
            w *= ((pos - (cuts[i - 1][0] - half)) / (2 * half)).clamp(0, 1)
        if i < len(starts) - 1:
            w *= 1 - ((pos - (cuts[i][0] - half)) / (2 * half)).clamp(0, 1)
        weights.append(w)
    return weights


def _run_tiled(
    net: torch.nn.Module,
    x: torch.Tensor,
    tile: int,
    overlap: int,
    margin: int,
    progress: Progress | None,
    shared: dict[int, tuple[torch.Tensor, torch.Tensor]] | None = None,
) -> torch.Tensor:
    """Run ``net`` on overlapping tiles of ``x`` (N, C, H, W; H and W multiples of 4) and blend.

    Everything in the generator is local except instance norm: within ``margin`` of an inner
    tile edge the tile lacks its real surroundings, so those pixels are dropped, and the rest
    is blended linearly across the overlap. Given the same normalisation statistics
    (``shared``: norm layer id -> (mean, var), e.g. recorded from a whole-image run) the tiles
    reproduce the whole-image result exactly; by default each tile normalises with its own
    statistics, as the generator did on its 256 px training crops, and the wide blend hides
    the small differences in tone between neighbouring tiles. Peak memory is that of one tile.
    """
    n, _, height, width = x.shape
    tile = max(MIN_TILE_SIZE, tile // SIZE_MULTIPLE * SIZE_MULTIPLE)
    overlap = min(overlap, tile // 3) // SIZE_MULTIPLE * SIZE_MULTIPLE
    rows, cols = _plan(height, tile, overlap), _plan(width, tile, overlap)
    th, tw = min(tile, height), min(tile, width)
    wy, wx = _blend_weights(rows, th, margin), _blend_weights(cols, tw, margin)
    out = torch.zeros((n, 3, height, width), dtype=torch.float32, device=x.device)
    token = norm_stats.set((lambda layer, _x: shared[id(layer)]) if shared is not None else None)
    try:
        for k, (i, j) in enumerate((i, j) for i in range(len(rows)) for j in range(len(cols))):
            r, c = rows[i], cols[j]
            w = (wy[i][:, None] * wx[j][None, :]).to(device=x.device, dtype=torch.float32)
            out[:, :, r : r + th, c : c + tw] += net(x[:, :, r : r + th, c : c + tw]).float() * w
            if progress:
                progress(k + 1, len(rows) * len(cols))
    finally:
        norm_stats.reset(token)
    return out  # the weights sum to 1 at every pixel


def translate(
    net: ResnetGenerator,
    x: torch.Tensor,
    tile_size: int | None = DEFAULT_TILE_SIZE,
    progress: Progress | None = None,
    overlap: int = TILE_OVERLAP,
    margin: int = TILE_MARGIN,
) -> torch.Tensor:
    """Run the generator on ``x`` (N, 3, H, W) in [0, 1] of any size; returns float32 in [0, 1].

    The input is reflection-padded to a multiple of 4 and the output cropped back, so the
    result has exactly the input's size; above ``tile_size`` px it is tiled (``None``: never).
    """
    param = next(net.parameters())
    _, _, height, width = x.shape
    pad_h, pad_w = (-height) % SIZE_MULTIPLE, (-width) % SIZE_MULTIPLE
    xin = (x.to(device=param.device, dtype=torch.float32) * 2 - 1).to(param.dtype)
    if pad_h or pad_w:
        xin = F.pad(xin, (0, pad_w, 0, pad_h), mode="reflect")
    xin = xin.contiguous(memory_format=torch.channels_last)
    try:
        with torch.inference_mode():
            if tile_size is None or max(xin.shape[-2:]) <= tile_size:
                y = net(xin).float()
                if progress:
                    progress(1, 1)
            else:
                y = _run_tiled(net, xin, tile_size, overlap, margin, progress)
    except torch.OutOfMemoryError as exc:
        raise ResourceError(
            f"out of memory painting {width}x{height} px on {param.device}; use a smaller tile size or image"
        ) from exc
    except RuntimeError as exc:
        if "can't allocate memory" in str(exc) or "not enough memory" in str(exc):
            raise ResourceError(
                f"out of memory painting {width}x{height} px; use a smaller tile size or image"
            ) from exc
        raise
    return ((y[:, :, :height, :width] + 1) / 2).clamp(0, 1)


def _finish(original: Image.Image, painted: torch.Tensor, strength: float) -> Image.Image:
    """Bring the painting (1, 3, h, w) to the original's size and blend it in by ``strength``."""
    canvas = Canvas.of(original)
    painted = painted.cpu()
    if Canvas.of(painted) != canvas:
        painted = F.interpolate(painted, size=canvas.hw, mode="bicubic", align_corners=False).clamp(0, 1)
    if strength < 1.0:
        photo = image_to_tensor(original)
        painted = photo + strength * (painted - photo)
    return tensor_to_image(painted)


def paint_images(
    images: Sequence[Image.Image],
    net: ResnetGenerator,
    strength: float,
    brush_scale: float,
    tile_size: int | None = DEFAULT_TILE_SIZE,
    progress: Progress | None = None,
    batch_size: int = 4,
) -> list[Image.Image]:
    """Paint decoded photos with ``net`` (options already checked); photos of equal working size go
    through the network together. Batching pays on a GPU (one launch for several images); instance
    norm works per image, so each result is the same as painting it alone. Tiled (large) images run one
    at a time. ``progress(done, total)`` counts network runs."""
    canvases = [work_canvas(Canvas.of(im), brush_scale) for im in images]
    groups: dict[Canvas, list[int]] = {}
    for i, canvas in enumerate(canvases):
        groups.setdefault(canvas, []).append(i)
    chunks = []
    for canvas, members in groups.items():
        step = 1 if tile_size is not None and canvas.size > tile_size else batch_size
        chunks += [members[k : k + step] for k in range(0, len(members), step)]

    results: list[Image.Image | None] = [None] * len(images)
    for done, chunk in enumerate(chunks):
        canvas = canvases[chunk[0]]
        batch = torch.cat([image_to_tensor(resize_to(images[i], canvas)) for i in chunk])
        # One chunk: report its tiles; several: report chunks.
        painted = translate(net, batch, tile_size, progress if len(chunks) == 1 else None)
        for row, i in enumerate(chunk):
            results[i] = _finish(images[i], painted[row : row + 1], strength)
        if progress and len(chunks) > 1:
            progress(done + 1, len(chunks))
    return [r for r in results if r is not None]


def paint_batch(
    contents: Sequence[ImageSource],
    painter: str = DEFAULT_PAINTER,
    progress: Progress | None = None,
    batch_size: int = 4,
    **options: Any,
) -> list[Image.Image]:
    """Paint several photos, each checked as a :class:`~nst.requests.PaintRequest` with ``options``
    (``strength``, ``brush_scale``, ``max_size``, ``device``, ``weights``, ``tile_size``, ``precision``),
    then batched (:func:`paint_images`)."""
    from .requests import PaintRequest  # the request module builds on this one

    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise SettingsError(f"batch size: {shown(batch_size)} must be a whole number, at least 1")
    requests = [PaintRequest(c, painter, **options).prepare() for c in contents]
    first = requests[0]
    photos = [r.content for r in requests]
    if first.strength == 0:
        return [im.copy() for im in photos]  # the photos themselves: no network, no rounding
    net = load_generator(first.painter, first.weights, first.device, first.precision)
    return paint_images(photos, net, first.strength, first.brush_scale, first.tile_size, progress, batch_size)


def paint(content: ImageSource, painter: str = DEFAULT_PAINTER, **options: Any) -> Image.Image:
    """Repaint ``content`` with a CycleGAN generator: a :class:`~nst.requests.PaintRequest` run; the
    result has exactly the input's size (after ``max_size``). ``options``: ``strength``, ``brush_scale``
    (see the module docstring), ``device``, ``weights`` (a local ``.pth`` or ``.safetensors`` generator
    instead of the catalogue's), ``tile_size`` (bounds memory for large images; ``None``: never tile),
    ``precision`` (``auto``, see :func:`resolve_dtype`) and ``max_size``."""
    from .requests import PaintRequest  # the request module builds on this one

    return PaintRequest(content, painter, **options).run().image
