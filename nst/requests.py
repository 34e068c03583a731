"""One run, one object: a request type per kind of run.

* :class:`StylizeRequest`: a photo repainted in the style of one or more paintings, by optimization
  (Gatys et al. and every extension: other style statistics, histogram loss, photorealism, colour
  preservation, blends, masks, segmentations);
* :class:`TextureRequest`: a texture of any width and height with a painting's statistics;
* :class:`PaintRequest`: one pass of a pretrained CycleGAN painter.

Every front end builds a request and runs it: :func:`nst.stylize`, :func:`nst.synthesize_texture`,
:func:`nst.cyclegan.paint`, the CLI, the API's endpoints and the page. ``prepare()`` is the one
place inputs are checked: settings (by :class:`~nst.settings.Settings` itself), a server's
:class:`Limits`, the number of images, the device's memory (before any image is decoded), then every
image decoded and shrunk at once to the size the run uses. A prepared request holds only decoded
images, validated settings and its plan: it is small and picklable, so on a ZeroGPU Space it is
what crosses into the GPU worker. ``run(on_step, stop)`` runs it (preparing it first when needed).
"""

from __future__ import annotations

import dataclasses
import math
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from PIL import Image

from . import color, cyclegan, inputs
from .catalogue import get_entry
from .checks import as_int
from .devices import autocast_dtype, pick_device
from .engine import (
    PhaseCallback,
    Preparing,
    Scale,
    StepCallback,
    StepInfo,
    StyleResult,
    plan_scales,
    run_scales,
)
from .errors import SettingsError
from .faces import Face, find_faces
from .geometry import Canvas
from .images import ImageSource, image_to_tensor, load_image, resize_to
from .inputs import Input
from .memory import check_memory
from .regions import Region, plan_regions
from .settings import MAX_SIZE, MAX_STYLES, MIN_SCALE_SIZE, MIN_SIZE, Settings
from .targets import check_stop
from .vgg import VGGFeatures
from .weights import load_vgg


@dataclass(frozen=True)
class Limits:
    """A server's limits on top of the package's own (None: no such limit): the largest ``size``
    (``NST_MAX_SIZE``), the most ``steps`` (``NST_MAX_STEPS``), the smallest ``tile_size`` a client may
    ask for, the painters it offers, and the longest video run by the time model (``NST_MAX_VIDEO_SECONDS``,
    :mod:`nst.video`)."""

    max_size: int | None = None
    max_steps: int | None = None
    min_tile: int | None = None
    painters: tuple[str, ...] | None = None
    max_video_seconds: float | None = None

    def bounds(self) -> dict[str, tuple[int, int]]:
        """The whole-number values this server bounds more tightly than the package: (lowest, highest)."""
        out = {}
        if self.max_size is not None:
            out.update(
                size=(MIN_SIZE, self.max_size),
                width=(MIN_SCALE_SIZE, self.max_size),
                height=(MIN_SCALE_SIZE, self.max_size),
                max_size=(inputs.MIN_WORK_SIDE, self.max_size),
            )
        if self.max_steps is not None:
            out["steps"] = (1, self.max_steps)
        return out

    def check_values(self, values: Mapping[str, Any]) -> None:
        """A front end's values by name against this server's bounds, before the package's own wider ones
        are applied: a size above the server's limit is told the range this server takes, not 32 to 8192."""
        for name, (low, high) in self.bounds().items():
            if values.get(name) is not None:
                as_int(values[name], name, low, high, " on this server")

    def check_size(self, name: str, size: int) -> None:
        if self.max_size is not None and size > self.max_size:
            raise SettingsError(f"{name}: {size} px is above this server's limit of {self.max_size} px")

    def check(self, settings: Settings) -> None:
        if self.max_steps is not None and settings.steps > self.max_steps:
            raise SettingsError(f"steps: {settings.steps} is above this server's limit of {self.max_steps}")
        if (
            self.min_tile is not None
            and settings.tile_size is not None
            and settings.tile_size < self.min_tile
        ):
            raise SettingsError(
                f"tile_size: this server takes tiles of at least {self.min_tile} px (smaller tiles repeat "
                "most of the work in their overlaps); leave it empty to tile only when needed"
            )


@dataclass(frozen=True)
class Plan:
    """What ``prepare()`` worked out: the scales and notes, and where each style applies."""

    scales: tuple[Scale, ...]
    notes: tuple[str, ...] = ()
    regions: tuple[Region, ...] | None = None
    faces: tuple[Face, ...] | None = None  #: the faces keep_faces keeps, found on the content as decoded


def _given(source: Any, what: str) -> Any:
    if source is None or (isinstance(source, str) and not source.strip()) or source == []:
        raise SettingsError(f"{what}: no image was given")
    return source


def _several(sources: Any) -> tuple[Any, ...]:
    if sources is None or (isinstance(sources, str) and not sources.strip()):
        return ()
    return tuple(sources) if isinstance(sources, (list, tuple)) else (sources,)


def _load_styles(sources: Sequence[ImageSource], settings: Settings) -> tuple[Image.Image, ...]:
    """The style images, each shrunk as it is decoded to the largest size the run uses it at."""
    names = ["style image"] + [f"extra style image {k + 1}" for k in range(len(sources) - 1)]
    return tuple(load_image(s, name, settings.style_size) for s, name in zip(sources, names))


def _network(
    settings: Settings, taps: list[str], device: Any, vgg_weights: Any, on_phase: PhaseCallback | None
) -> VGGFeatures:
    if on_phase is not None:
        on_phase(Preparing("network"))
    dev = pick_device(device)
    return load_vgg(settings.backbone, settings.pooling, vgg_weights, dev).truncated(
        taps, autocast_dtype(settings.precision, dev)
    )


def _with_content_colors(callback: StepCallback | None, content: Image.Image) -> StepCallback | None:
    """Luminance-only transfer: show the callback images with the content's colours already put back."""
    if callback is None:
        return None

    def wrapped(info: StepInfo) -> bool | None:
        if info.image is not None:
            info.image = color.combine_luminance(
                info.image, image_to_tensor(resize_to(content, info.canvas))
            ).clamp_(0, 1)
        return callback(info)

    return wrapped


def gpu_seconds(canvas: Canvas, settings: Settings) -> int:
    """A generous estimate of an optimization's duration, for ZeroGPU's ``duration`` (which must not run
    short): about 15 ms per VGG19 step at 512 x 512 on a ZeroGPU-class card, scaling with the pixel
    count, VGG16 about 25% cheaper; plus 20 s for loading weights and warming up; times 2 for headroom;
    between 30 s and 600 s."""
    per_step = 0.015 * canvas.pixels / 512**2 * (0.75 if settings.backbone == "vgg16" else 1.0)
    return int(min(600, max(30, math.ceil(20 + 2 * settings.steps * per_step))))


class _Prepared:
    """What the three requests share: the prepared copy and its plan."""

    plan: Plan | None

    @property
    def prepared(self) -> bool:
        return self.plan is not None

    def _with(self, plan: Plan, **changes: Any) -> Any:
        out = dataclasses.replace(self, **changes)  # type: ignore[type-var]
        object.__setattr__(out, "plan", plan)
        return out


class _Optimization(_Prepared):
    """What the two optimizations share: one or more styles, settings, a VGG, and the engine's loop."""

    style: ImageSource | None
    extra_styles: Sequence[ImageSource]
    settings: Settings
    device: str | None
    vgg_weights: str | os.PathLike | None

    @property
    def styles(self) -> tuple[ImageSource | None, ...]:
        return (self.style, *_several(self.extra_styles))

    @property
    def steps(self) -> int:
        return self.settings.steps

    def _check_styles(self, settings: Settings) -> tuple[ImageSource, ...]:
        """The style images given (each one named when missing), as many as a run takes, with a blend that fits."""
        styles = self.styles
        for k, source in enumerate(styles):
            _given(source, "style image" if k == 0 else f"extra style image {k}")
        if len(styles) > MAX_STYLES:
            raise SettingsError(f"style: {len(styles)} style images given; at most {MAX_STYLES} at once")
        settings.blend_weights(len(styles))  # refuses a blend of the wrong length before any work
        return styles  # type: ignore[return-value]

    def _engine_inputs(self, on_step: StepCallback | None) -> tuple[Any, list[Image.Image], Any, Any]:
        """What the engine optimizes for this prepared request: (content or None, styles, step callback,
        finish: a change to the picture before it is made one, or None)."""
        raise NotImplementedError

    def run(
        self,
        on_step: StepCallback | None = None,
        stop: threading.Event | None = None,
        *,
        on_phase: PhaseCallback | None = None,
        image_every: int = 25,
        start: Any = None,
        more_terms: Sequence[tuple[Any, float]] = (),
    ) -> StyleResult:
        """The picture (preparing the request first when needed). ``on_step`` sees every step (losses, and
        the image every ``image_every`` steps) and may stop the run by returning True; ``stop``, set from
        another thread, ends it while targets are built or after the current step. Stopped before the
        first step, it raises :class:`~nst.errors.Stopped`; later, the best picture so far at full size is
        the result. ``start`` and ``more_terms``: a video frame's warm start and temporal loss (see
        :func:`~nst.engine.run_scales`), ``start`` as :meth:`engine_view` shows it."""
        request = self.prepare()  # type: ignore[attr-defined]
        content, styles, callback, finish = request._engine_inputs(on_step)
        check_stop(stop)
        settings, plan = request.settings, request.plan
        net = _network(
            settings,
            settings.taps(with_content=content is not None),
            request.device,
            request.vgg_weights,
            on_phase,
        )
        return run_scales(
            settings,
            net,
            content,
            styles,
            plan.scales,
            pick_device(request.device),
            notes=plan.notes,
            regions=plan.regions,
            faces=plan.faces,
            callback=callback,
            on_phase=on_phase,
            image_every=image_every,
            stop=stop,
            finish=finish,
            start=start,
            more_terms=more_terms,
        )

    def engine_view(self, image: Any) -> Any:
        """A picture (1, 3, H, W) as the engine optimizes it: as it is, or its luminance alone when
        ``preserve_color`` is "luminance" (the colours are the photo's, put back after)."""
        if self.settings.preserve_color == "luminance":
            return color.gray(color.luminance(image))
        return image


@dataclass(frozen=True)
class StylizeRequest(_Optimization):
    """A photo repainted in the style of one or more paintings (Gatys et al. and its extensions)."""

    content: ImageSource | None
    style: ImageSource | None
    settings: Settings = field(default_factory=Settings)
    extra_styles: Sequence[ImageSource] = ()
    masks: Sequence[ImageSource] = ()
    content_segmentation: ImageSource | None = None
    style_segmentation: ImageSource | None = None
    device: str | None = None
    vgg_weights: str | os.PathLike | None = None  #: a local VGG file (Python, CLI); servers never set it
    plan: Plan | None = field(default=None, init=False, repr=False, compare=False)

    INPUTS: ClassVar[tuple[Input, ...]] = inputs.STYLIZE

    @property
    def compare_with(self) -> Any:
        """The picture a result is shown beside: the photo."""
        return self.content

    def prepare(self, limits: Limits = Limits()) -> StylizeRequest:
        """Check everything, then decode every image at the size the run uses (see the module docstring)."""
        if self.prepared:
            return self
        settings, masks = self.settings, _several(self.masks)
        _given(self.content, "content image")
        styles = self._check_styles(settings)
        limits.check_size("size", settings.size)
        limits.check(settings)
        guided = bool(masks) or self.content_segmentation is not None
        check_memory(
            Canvas(settings.size, settings.size), settings, len(styles), pick_device(self.device), guided
        )
        content = load_image(self.content, "content image", settings.size)
        style_images = _load_styles(styles, settings)
        canvas = Canvas.of(content)
        scales, notes = plan_scales(canvas, settings)
        regions = plan_regions(
            len(style_images),
            canvas,
            [Canvas.of(s) for s in style_images],
            masks=masks,
            content_segmentation=self.content_segmentation,
            style_segmentation=self.style_segmentation,
            blend_given=settings.style_blend is not None,
        )
        faces = find_faces(content) if settings.finds_faces else None
        return self._with(
            Plan(tuple(scales), tuple(notes), None if regions is None else tuple(regions), faces),
            content=content,
            style=style_images[0],
            extra_styles=style_images[1:],
            masks=(),
            content_segmentation=None,
            style_segmentation=None,
        )

    def gpu_seconds(self) -> int:
        return gpu_seconds(self.prepare().plan.scales[-1].canvas, self.settings)  # type: ignore[union-attr]

    def _engine_inputs(self, on_step: StepCallback | None) -> tuple[Any, list[Image.Image], Any, Any]:
        """The photo and paintings as ``preserve_color`` has the engine see them: as they are, the paintings
        recoloured to the photo's colours (histogram), or luminance only, the photo's colours put back on
        every preview and on the result (luminance)."""
        content: Image.Image = self.content  # type: ignore[assignment]
        styles: list[Image.Image] = list(self.styles)  # type: ignore[arg-type]
        preserve_color = self.settings.preserve_color
        if preserve_color == "histogram":
            return content, [color.match_color_image(s, content) for s in styles], on_step, None
        if preserve_color != "luminance":
            return content, styles, on_step, None

        def put_content_colors_back(x: Any) -> Any:
            return color.combine_luminance(x, image_to_tensor(resize_to(content, Canvas.of(x)), x.device))

        return (
            color.luminance_image(content),
            [color.matched_luminance_image(s, content) for s in styles],
            _with_content_colors(on_step, content),
            put_content_colors_back,
        )


def check_texture_canvas(width: Any, height: Any) -> Canvas:
    """Width and height as whole numbers in range, or a SettingsError naming the bad one."""
    canvas = Canvas(
        as_int(width, "width", MIN_SCALE_SIZE, MAX_SIZE), as_int(height, "height", MIN_SCALE_SIZE, MAX_SIZE)
    )
    if canvas.size < MIN_SIZE:
        raise SettingsError(
            f"width, height: the longer side must be at least {MIN_SIZE} pixels, got {canvas.width}x{canvas.height}"
        )
    return canvas


#: Settings that need a content image: a texture has none.
CONTENT_ONLY = {
    "photo_weight": "photo_weight: the photorealism loss needs a content photo; a texture has none (set it to 0)",
    "preserve_color": "preserve_color: a texture has no content whose colours could be kept (set it to none)",
}


@dataclass(frozen=True)
class TextureRequest(_Optimization):
    """A ``width`` x ``height`` texture with the statistics of a painting (or a blend of several), from
    noise (Gatys, Ecker, Bethge 2015): the optimization of a stylization without its content. Its
    ``size`` is the canvas's long side; ``init`` "content" means noise here."""

    style: ImageSource | None
    width: int
    height: int
    settings: Settings = field(default_factory=Settings)
    extra_styles: Sequence[ImageSource] = ()
    device: str | None = None
    vgg_weights: str | os.PathLike | None = None
    plan: Plan | None = field(default=None, init=False, repr=False, compare=False)

    INPUTS: ClassVar[tuple[Input, ...]] = inputs.TEXTURE

    @property
    def compare_with(self) -> Any:
        """The picture a result is shown beside: the painting."""
        return self.style

    def prepare(self, limits: Limits = Limits()) -> TextureRequest:
        if self.prepared:
            return self
        styles = self._check_styles(self.settings)
        canvas = check_texture_canvas(self.width, self.height)
        limits.check_size("width", canvas.width)
        limits.check_size("height", canvas.height)
        for name, message in CONTENT_ONLY.items():
            if getattr(self.settings, name) != getattr(Settings(), name):
                raise SettingsError(message)
        if not self.settings.style_weight and not self.settings.hist_weight:
            raise SettingsError("style_weight and hist_weight are both 0: a texture needs a style loss")
        settings = self.settings.replace(size=canvas.size)
        limits.check(settings)
        check_memory(canvas, settings, len(styles), pick_device(self.device))
        style_images = _load_styles(styles, settings)
        scales, notes = plan_scales(canvas, settings)
        return self._with(
            Plan(tuple(scales), tuple(notes)),
            width=canvas.width,
            height=canvas.height,
            settings=settings,
            style=style_images[0],
            extra_styles=style_images[1:],
        )

    def gpu_seconds(self) -> int:
        return gpu_seconds(Canvas(self.width, self.height), self.settings)

    def _engine_inputs(self, on_step: StepCallback | None) -> tuple[Any, list[Image.Image], Any, Any]:
        """No content: the paintings alone, from noise."""
        return None, list(self.styles), on_step, None  # type: ignore[arg-type]


@dataclass(frozen=True)
class PaintRequest(_Prepared):
    """A photo repainted in one pass of a pretrained CycleGAN painter (Zhu et al.): ``strength`` blends
    the painting with the photo, ``brush_scale`` paints at a lower resolution for coarser strokes,
    ``max_size`` first shrinks the photo (None: a server's limit, else its own size)."""

    content: ImageSource | None
    painter: str = inputs.DEFAULT_PAINTER
    strength: float = 1.0
    brush_scale: float = 1.0
    max_size: int | None = None
    weights: str | os.PathLike | None = None  #: a local generator file (Python, CLI); servers never set it
    tile_size: int | None = inputs.DEFAULT_TILE_SIZE
    precision: str = "auto"
    device: str | None = None
    plan: Plan | None = field(default=None, init=False, repr=False, compare=False)

    INPUTS: ClassVar[tuple[Input, ...]] = inputs.PAINT

    @property
    def steps(self) -> int:
        return 1

    @property
    def compare_with(self) -> Any:
        return self.content

    def prepare(self, limits: Limits = Limits()) -> PaintRequest:
        if self.prepared:
            return self
        _given(self.content, "content image")
        cyclegan.resolve_dtype(pick_device(self.device), self.precision)  # a bad device or precision, by name
        painter = self.painter
        if self.weights is None:
            painter = get_entry(self.painter).name  # only catalogue names, even at strength 0
            if limits.painters is not None and painter not in limits.painters:
                raise SettingsError(
                    f"painter: {painter} is not offered on this server; choose one of {', '.join(limits.painters)}"
                )
        strength, brush_scale = cyclegan.check_options(self.strength, self.brush_scale, self.tile_size)
        max_size = self.max_size if self.max_size is not None else limits.max_size
        if max_size is not None:
            max_size = as_int(max_size, "max_size", inputs.MIN_WORK_SIDE, limits.max_size or 1_000_000)
        photo = cyclegan.load_photo(self.content, max_size)
        return self._with(
            Plan((Scale(Canvas.of(photo), 1),)),
            content=photo,
            painter=painter,
            strength=strength,
            brush_scale=brush_scale,
            max_size=max_size,
        )

    def gpu_seconds(self) -> int:
        return 30

    def run(
        self,
        on_step: StepCallback | None = None,
        stop: threading.Event | None = None,
        *,
        on_phase: PhaseCallback | None = None,
        image_every: int = 25,
    ) -> StyleResult:
        """The painting, at exactly the photo's size (after ``max_size``). One pass: ``stop`` is read before
        it, and ``on_step`` is not called."""
        request = self.prepare()
        start = time.perf_counter()
        photo: Image.Image = request.content  # type: ignore[assignment]
        check_stop(stop)
        dev = pick_device(request.device)
        tell = on_phase or (lambda phase: None)
        if request.strength == 0:
            tell(Preparing("painting"))
            image = photo.copy()  # the photo itself: no network, no rounding
        else:
            tell(Preparing("painter"))
            net = cyclegan.load_generator(request.painter, request.weights, dev, request.precision)
            check_stop(stop)
            tell(Preparing("painting"))
            image = cyclegan.paint_images(
                [photo], net, request.strength, request.brush_scale, request.tile_size
            )[0]
        return StyleResult(image, None, seconds=time.perf_counter() - start, steps=1, device=str(dev))


def stylize(
    content: ImageSource,
    style: ImageSource | Sequence[ImageSource],
    settings: Settings | None = None,
    *,
    masks: Sequence[ImageSource] | None = None,
    content_segmentation: ImageSource | None = None,
    style_segmentation: ImageSource | None = None,
    callback: StepCallback | None = None,
    image_every: int = 25,
    device: str | None = None,
    vgg_weights: str | os.PathLike | None = None,
    stop: threading.Event | None = None,
    **overrides: Any,
) -> StyleResult:
    """Repaint ``content`` in the style of ``style`` (Gatys et al.), or of several styles: a
    :class:`StylizeRequest` run.

    ``settings`` holds every picture-deciding choice; keyword ``overrides`` change single
    fields (``stylize(photo, painting, steps=100)``). ``callback`` sees every step (losses, and
    the image every ``image_every`` steps) and may stop the run by returning True; ``stop``, an
    event set from another thread (a server's Stop button, a closed connection), ends it while
    targets are built or after the current step. Stopped before the first step, it raises
    :class:`~nst.errors.Stopped`; later, the picture so far is the result, at full size.

    ``style`` may be a list of images (at most ``MAX_STYLES``), mixed with
    ``settings.style_blend`` (equal by default), or placed by ``masks``: one gray image per
    style, on the content, white where that style applies (spatial control).
    ``content_segmentation`` and ``style_segmentation`` (colour-coded label images, one style)
    restrict the style statistics to matching regions, as in Luan et al.'s augmented style
    loss; use them with ``photo_weight`` for photorealistic transfer.

    Before any image is decoded, the run's memory is checked against the device's
    (:mod:`nst.memory`); every image is shrunk as soon as it is decoded to the size the run uses.
    """
    styles = _several(style) or (None,)
    settings = settings or Settings()
    return StylizeRequest(
        content,
        styles[0],
        settings.replace(**overrides) if overrides else settings,
        extra_styles=styles[1:],
        masks=_several(masks),
        content_segmentation=content_segmentation,
        style_segmentation=style_segmentation,
        device=device,
        vgg_weights=vgg_weights,
    ).run(callback, stop, image_every=image_every)


def synthesize_texture(
    style: ImageSource | Sequence[ImageSource],
    settings: Settings | None = None,
    *,
    width: int,
    height: int,
    callback: StepCallback | None = None,
    image_every: int = 25,
    device: str | None = None,
    vgg_weights: str | os.PathLike | None = None,
    stop: threading.Event | None = None,
    **overrides: Any,
) -> StyleResult:
    """A ``width`` x ``height`` texture with the statistics of ``style`` (one image or a blend): a
    :class:`TextureRequest` run. Uses the same settings as :func:`stylize` minus the content: ``init``
    "content" means noise here (the paper's start); ``size`` is set to the canvas's long side. The
    photorealism and colour preservation need a content image and are refused. ``callback`` and
    ``stop`` work as in :func:`stylize`.
    """
    styles = _several(style) or (None,)
    settings = settings or Settings()
    return TextureRequest(
        styles[0],
        width,
        height,
        settings.replace(**overrides) if overrides else settings,
        extra_styles=styles[1:],
        device=device,
        vgg_weights=vgg_weights,
    ).run(callback, stop, image_every=image_every)
