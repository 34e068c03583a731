"""Does a better-conditioned parameterization of the image reach the picture in fewer steps?

Feature visualization (Olah et al., "Feature Visualization", Distill 2017; Mordvintsev et al.,
"Differentiable Image Parameterizations", Distill 2018) optimizes an image through a decorrelated
colour space and a Fourier basis scaled by 1/frequency, which equalizes the curvature across colours
and scales and is reported to speed up and clean up style objectives too. This runs the page's
CPU schedule (its steps and scales, the engine's own loss terms and L-BFGS) with the image
optimized as

* ``pixels``: the RGB values, as the engine does;
* ``decorrelated``: coordinates in ImageNet's decorrelated colour basis (Lucid's
  ``color_correlation_svd_sqrt``, normalized by its largest column), image = basis @ p + mean;
* ``fourier``: the decorrelated colours' 2-D real FFT, each frequency scaled by
  ``1 / max(f, 1/side) ** decay`` (decay 1, Lucid's), image = irfft2(scale * p);

each starting from the content image (the parameters are the transform's inverse of it) and
restarted at each scale from the upsampled picture, as the engine's coarse-to-fine does. A picture
is kept every ``--every`` steps with its time; the judge (``benchmarks/judge.py``) looks at them
afterwards. Writes the time and steps to the first finished picture (the lenient and strict
thresholds of ``bench_time_to_picture.py``) per pair and parameterization to
``benchmarks/results/parameterization-cpu.md``, and the pictures to ``--keep``.

    python benchmarks/try_parameterization.py [--pairs tubingen:starry_night ...] [--repeats 2] \
        [--kinds pixels fourier] [--histories 100 10]

``--histories`` runs each parameterization with other L-BFGS history sizes (the engine keeps 100, the
paper implementations' value, fewer where memory is short).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_time_to_picture import PAIRS, THRESHOLDS, first_finished  # noqa: E402
from judge import SHARED, VGG16, Judge  # noqa: E402
from measure import machine  # noqa: E402

from nst.engine import _style_tensor, plan_scales  # noqa: E402
from nst.geometry import Canvas  # noqa: E402
from nst.images import image_to_tensor, load_image, tensor_to_image  # noqa: E402
from nst.lbfgs import LBFGS  # noqa: E402
from nst.settings import Settings  # noqa: E402
from nst.targets import build_terms  # noqa: E402
from nst.ui.server import CPU_DEFAULTS  # noqa: E402
from nst.weights import load_vgg  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
#: Lucid's square root of ImageNet's colour covariance (columns: the decorrelated axes).
COLOR_SQRT = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
COLOR_BASIS = COLOR_SQRT / COLOR_SQRT.norm(dim=0).max()
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)


class Pixels:
    def __init__(self, image: torch.Tensor) -> None:
        self.p = image.clone()

    def image(self, p: torch.Tensor) -> torch.Tensor:
        return p


class Decorrelated:
    def __init__(self, image: torch.Tensor) -> None:
        self.p = torch.einsum("ij,bjhw->bihw", torch.linalg.inv(COLOR_BASIS), image - MEAN)

    def image(self, p: torch.Tensor) -> torch.Tensor:
        return torch.einsum("ij,bjhw->bihw", COLOR_BASIS, p) + MEAN


class Fourier(Decorrelated):
    def __init__(self, image: torch.Tensor, decay: float = 1.0) -> None:
        super().__init__(image)
        h, w = image.shape[-2:]
        fy = torch.fft.fftfreq(h)[:, None]
        fx = torch.fft.rfftfreq(w)[None, :]
        self.size = (h, w)
        self.scale = 1.0 / (fy**2 + fx**2).sqrt().clamp(min=1.0 / max(h, w)) ** decay
        self.p = torch.view_as_real(torch.fft.rfft2(self.p, norm="ortho") / self.scale).contiguous()

    def image(self, p: torch.Tensor) -> torch.Tensor:
        spectrum = torch.view_as_complex(p) * self.scale
        return super().image(torch.fft.irfft2(spectrum, s=self.size, norm="ortho"))


KINDS = {"pixels": Pixels, "decorrelated": Decorrelated, "fourier": Fourier}


def scale_steps(kind: str, x: torch.Tensor, net, terms, settings: Settings, n_steps: int, history: int):
    """Optimize ``x`` through the parameterization ``kind`` for ``n_steps``; yields the image after each."""
    taps = sorted({layer for term, _ in terms for layer in term.layers})
    param = KINDS[kind](x)
    p = param.p.requires_grad_(True)
    optimizer = LBFGS(p, lr=settings.lr, history_size=history)

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        image = param.image(p)
        feats = net(image, taps)
        total = sum(weight * term(feats, image) for term, weight in terms)
        total.backward()
        return total

    for _ in range(n_steps):
        optimizer.step(closure)
        with torch.no_grad():
            yield param.image(p).clamp(0, 1)


def run(kind: str, content: Image.Image, style: Image.Image, settings: Settings, every: int, history: int):
    """Snapshots (steps, seconds, picture) of one run at the page's schedule with this parameterization."""
    net = load_vgg("vgg16", settings.pooling, str(VGG16), "cpu").truncated(settings.taps(), None)
    net.to_memory_format(torch.channels_last)
    scales, _ = plan_scales(Canvas.of(content), settings)
    snaps, spent, step, x = [], 0.0, 0, None
    start = time.perf_counter()
    for scale in scales:
        size = scale.canvas
        content_t = image_to_tensor(content.resize(size, Image.Resampling.LANCZOS))
        terms = build_terms(
            settings, net, content_t, [_style_tensor(style, size, settings, content_t.device)], canvas=size
        )
        start_x = content_t if x is None else F.interpolate(x, size=size.hw, mode="bicubic")
        for x in scale_steps(kind, start_x.clamp(0, 1), net, terms, settings, scale.steps, history):
            step += 1
            if size.size == settings.size and (step % every == 0 or step == settings.steps):
                now = time.perf_counter()
                snaps.append((step, now - start - spent, tensor_to_image(x)))
                spent += time.perf_counter() - now
    return snaps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", nargs="+", default=list(PAIRS))
    ap.add_argument("--kinds", nargs="+", default=list(KINDS))
    ap.add_argument("--histories", type=int, nargs="+", default=[100], help="L-BFGS history sizes to try")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--every", type=int, default=2)
    ap.add_argument("--keep", type=Path, default=Path("/tmp/nst-parameterization"))
    args = ap.parse_args()
    torch.manual_seed(0)
    judge = Judge()
    settings = Settings(
        backbone="vgg16", size=CPU_DEFAULTS.size, steps=CPU_DEFAULTS.steps, scales=CPU_DEFAULTS.scales
    )
    best: dict[tuple[str, str], list] = {}
    for repeat in range(args.repeats):
        for pair in args.pairs:
            c, s = pair.split(":")
            content = load_image(SHARED / "images" / "content" / f"{c}.jpg", max_size=settings.size)
            style = load_image(SHARED / "images" / "styles" / f"{s}.jpg", max_size=settings.style_size)
            for kind, history in ((k, h) for k in args.kinds for h in args.histories):
                snaps = run(kind, content, style, settings, args.every, history)
                points = []
                for steps, seconds, image in snaps:
                    points.append([steps, seconds, *judge.distances(image, content, style)])
                    if repeat == 0:
                        keep = args.keep / f"{c}-{s}-{kind}-h{history}"
                        keep.mkdir(parents=True, exist_ok=True)
                        image.save(keep / f"{steps:03d}.jpg", quality=90)
                found = [first_finished(points, *t) for t in THRESHOLDS]
                final = points[-1]
                print(f"{repeat + 1} {pair} {kind} h{history}: {found} final {final}", flush=True)
                key = (pair, f"{kind}, L-BFGS history {history}")
                if key not in best or final[1] < best[key][-1][1]:
                    best[key] = [*found, final]
    lines = [
        f"## Parameterization — {time.strftime('%Y-%m-%d %H:%M')}",
        "",
        f"Machine: {machine()}. `python benchmarks/try_parameterization.py`, the page's CPU schedule "
        f"({settings.steps} steps, {settings.scales} scales, {settings.size} px), VGG16 fp32, best of "
        f"{args.repeats}; a picture judged every {args.every} steps. Cells: seconds / steps to the first "
        "finished picture (lenient, strict); the final picture's style / content distance and seconds.",
        "",
        "| pair | image optimized as | lenient | strict | final style | final content | final s |",
        "|---|---|---|---|---|---|---|",
    ]
    for (pair, kind), (lenient, strict, final) in best.items():
        cells = [f"{p[1]:.1f} s / {p[0]}" if p else "not reached" for p in (lenient, strict)]
        lines.append(
            f"| {pair} | {kind} | {cells[0]} | {cells[1]} | {final[2]:.3f} | {final[3]:.3f} | {final[1]:.1f} |"
        )
    with (RESULTS / "parameterization-cpu.md").open("a") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
