"""The GPU as a whole app: ``app.py`` served on this machine's device and driven the way people and scripts
drive it, in one run, into one results file.

Starts ``app.py`` in a subprocess on 127.0.0.1 (CUDA when there is one, else the CPU), with the VGG16 and
the CycleGAN generator in ``../shared/weights`` (the generator standing in for the Monet painter), times its
start and a first call of each kind (the kernels warmed up at the defaults' sizes), then:

* **page**: headless Chromium (Debian's, through Playwright) opens the page, uploads a photo and a painting
  (Tübingen and Starry Night from ``../shared/images`` when present, else generated pictures), presses Run
  at the page's defaults for the device (``nst.ui.server.GPU_DEFAULTS``: 512 px, 300 steps over 2 scales;
  on a CPU ``CPU_DEFAULTS``: 256 px, 40 steps) and times, in the page itself, the click to the first
  preview shown and to the finished picture (the status line's "Done: ...", the picture at its size);
  needs the ``chromium`` system package and ``playwright`` (``requirements-dev.txt``), else this part fails
  saying so;
* **client**: the same run through ``gradio_client`` (``/gatys``): time to the first preview among the
  job's outputs, and to the picture;
* **concurrent clients**: 8 ``gradio_client`` calls at once through the queue (each its own photo of a flat
  colour, as its own style, at the defaults): seconds per user (min / median / max), that every user got
  its own picture back (the answer's mean colour nearest its own photo's; none lost, no error), and memory
  per user: on CUDA the GPU's memory in use (``nvidia-smi``, sampled every 50 ms) at its highest while
  each user's run was going (whole-GPU figures: the CUDA context and what PyTorch's caching allocator
  keeps from earlier runs included), on a CPU the server's resident memory the same way;
* **CycleGAN** (``/cyclegan``) at 512 and 1024 px: seconds per call (median), the server's own seconds;
* **half precision**: ``/gatys`` with ``precision`` bf16 (and fp16 on CUDA) against fp32 at the defaults:
  seconds, final loss, whether the losses are finite and the picture is one (not flat), and its mean
  difference from the fp32 picture.

    python benchmarks/gpu_app.py [--concurrency 8] [--repeats 5]   # on the GPU machine

``--quick`` runs every part at toy sizes on whatever device there is, with tiny random models set up as
``load_test.py`` does (a random-weight VGG19, a tiny CycleGAN generator in a fake Hugging Face cache,
offline): the page's defaults capped by ``NST_MAX_SIZE=128`` and ``NST_MAX_STEPS=20`` (128 px, 20 steps), 4 clients,
CycleGAN at 64 and 128 px; a test runs it on the CPU so the script is known to work before a GPU machine
is lent for it (about 35 s on 2 cores). Results: ``benchmarks/results/gpu-app-<device>.md`` (or
``--out``), appended, the machine named; a part that fails is written down with its error and the others
still run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from gpu_check import Check, picture  # noqa: E402
from load_test import photos, tiny_models  # noqa: E402
from measure import append_results, machine, rss_mb  # noqa: E402

from nst.ui.server import CPU_DEFAULTS, GPU_DEFAULTS  # noqa: E402
from support.browser import ARGS, chromium_path, upload_pictures  # noqa: E402
from support.http import AppProcess  # noqa: E402
from support.shared import IMAGES, VGG16, VINTAGE  # noqa: E402

#: --quick: the server's limits, which cap the page's (and the API's) defaults to toy sizes.
QUICK_LIMITS = {"NST_MAX_SIZE": "128", "NST_MAX_STEPS": "20"}  # the steps slider starts at 10
#: The longest any one call or page run may take before it counts as failed.
CALL_TIMEOUT_S = 300


def client_for(url: str):
    from gradio_client import Client

    return Client(url, verbose=False, analytics_enabled=False)


def watch(job, timeout: float = CALL_TIMEOUT_S) -> dict:
    """Follow a submitted job until it ends: when each of its outputs arrived (seconds from now, which is
    just after the submit), the first preview (an image before the last output), the states it went through
    and when, and its result (the last ``(image, info)``). Bounded by ``timeout``."""
    start = time.perf_counter()
    seen: list[tuple[float, object]] = []
    states: dict[str, float] = {}
    while True:
        done = job.done()
        outputs = list(job.outputs())
        for output in outputs[len(seen) :]:
            at = time.perf_counter() - start
            seen.append((at, output))
            if isinstance(output, tuple | list) and len(output) == 2 and isinstance(output[1], dict):
                states.setdefault(str(output[1].get("state")), at)
        if done:
            break
        if time.perf_counter() - start > timeout:
            job.cancel()
            raise TimeoutError(f"no answer within {timeout:.0f} s")
        time.sleep(0.005)
    image, info = job.result(timeout=30)  # raises the call's own error
    finished = time.perf_counter() - start
    previews = [at for at, o in seen[:-1] if isinstance(o, tuple | list) and o and o[0] is not None]
    return {
        "image": image,
        "info": info,
        "seconds": finished,
        "first_preview": previews[0] if previews else None,
        "previews": len(previews),
        "states": states,
        "end": time.perf_counter(),
    }


def call(client, *args, **kwargs) -> tuple[str, dict]:
    """``client.predict``, bounded in time: the call's ``(image, info)``."""
    seen = watch(client.submit(*args, **kwargs))
    return seen["image"], seen["info"]


class Sampler:
    """Samples a reading (MB) every ``every`` seconds with its time, while the ``with`` block runs."""

    def __init__(self, read: Callable[[], float], every: float = 0.05) -> None:
        self.read, self.every = read, every
        self.samples: list[tuple[float, float]] = []

    def __enter__(self) -> Sampler:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            value = self.read()
            self.samples.append((time.perf_counter(), value))
            time.sleep(self.every)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak(self, start: float = -float("inf"), end: float = float("inf")) -> float:
        inside = [v for t, v in self.samples if start <= t <= end and v == v]
        return max(inside, default=float("nan"))


def gpu_memory_reader() -> Callable[[], float] | None:
    """The GPU's memory in use, MB, as ``nvidia-smi`` reports it for the first visible GPU; None without it."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0].strip() or "0"

    def read() -> float:
        try:
            done = subprocess.run(
                [exe, "--query-gpu=memory.used", "--format=csv,noheader,nounits", "-i", visible],
                capture_output=True,
                text=True,
                timeout=5,
            )
            return float(done.stdout.split()[0])
        except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
            return float("nan")

    return read


def sane(path: str) -> tuple[bool, float]:
    """Whether a result is a picture (not flat: a NaN run ends as one colour) and its spread of values."""
    arr = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)
    spread = float(arr.std())
    return spread > 1.0, spread


def page_run(url: str, content: Path, style: Path, timeout: float) -> dict:
    """Open the page in headless Chromium, upload the photo and the painting, press Run and time, in the page,
    the click to the first picture shown and to the finished one (status "Done: W×H px", picture at W px)."""
    from playwright.sync_api import expect, sync_playwright

    executable = chromium_path()
    if executable is None:
        raise RuntimeError("no Chromium executable (apt-get install chromium, or set NST_CHROMIUM)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(url)
            expect(page.locator("#run")).to_be_visible()
            upload_pictures(page, content, style)
            page.wait_for_timeout(300)  # the upload's own check (status line) settles first
            page.evaluate(WATCH_PAGE)
            page.locator("#run").click()
            page.wait_for_function("() => window.__nst.done !== null", timeout=timeout * 1000)
            seen = page.evaluate("() => window.__nst")
        finally:
            browser.close()
    return {
        "dials": page_dials(url),
        "answer": (seen["answer"] - seen["click"]) / 1000,
        "first_picture": (seen["first"] - seen["click"]) / 1000,
        "done": (seen["done"] - seen["click"]) / 1000,
        "pictures": len(seen["srcs"]),
        "status": seen["status"],
    }


def page_dials(url: str) -> dict[str, object]:
    """Where the page's size, steps and scales dials start, as the server hands the page its components."""
    config = httpx.get(f"{url}config", timeout=30).json()
    values = {
        c.get("props", {}).get("elem_id"): c.get("props", {}).get("value") for c in config["components"]
    }
    return {name: values.get(name) for name in ("size", "steps", "scales")}


#: In the page: when Run was clicked, when the status line first changed, when the first picture in the result
#: was shown (loaded), every picture shown, and when the status line said "Done: W×H px" with the picture at
#: that width.
WATCH_PAGE = """() => {
  const w = window.__nst = {click: null, answer: null, first: null, done: null, srcs: [], status: ""};
  const before = (document.querySelector("#status") || {}).innerText || "";
  document.querySelector("#run").addEventListener("click", () => { w.click = performance.now(); },
                                                  {capture: true, once: true});
  const tick = () => {
    if (w.click !== null) {
      const img = document.querySelector("#output img");
      if (img && img.complete && img.naturalWidth > 0) {
        if (w.first === null) w.first = performance.now();
        if (!w.srcs.includes(img.src)) w.srcs.push(img.src);
      }
      const status = document.querySelector("#status");
      const text = status ? status.innerText : "";
      if (w.answer === null && text !== before) w.answer = performance.now();
      const m = text.match(/Done: (\\d+)×(\\d+) px/);
      if (m && img && img.complete && img.naturalWidth === Number(m[1])) {
        w.done = performance.now();
        w.status = text;
        return;
      }
    }
    setTimeout(tick, 5);
  };
  tick();
}"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="toy sizes and tiny random models on any device")
    ap.add_argument("--concurrency", type=int, default=None, help="clients at once [8; --quick: 4]")
    ap.add_argument("--repeats", type=int, default=None, help="CycleGAN calls per size [5; --quick: 2]")
    ap.add_argument("--vgg-weights", default=str(VGG16))
    ap.add_argument("--painter-weights", default=str(VINTAGE))
    ap.add_argument("--content", default=str(IMAGES / "content" / "tubingen.jpg"))
    ap.add_argument("--style", default=str(IMAGES / "styles" / "starry_night.jpg"))
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    quick = args.quick
    concurrency = args.concurrency or (4 if quick else 8)
    repeats = args.repeats or (2 if quick else 5)
    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    check = Check()
    work = Path(tempfile.mkdtemp(prefix="nst-gpu-app-"))

    def path_of(given: str, seed: int, name: str) -> Path:
        """The given picture, or (absent) a generated one saved into ``work``."""
        if Path(given).is_file():
            return Path(given)
        made = work / name
        picture(Path(given), seed).save(made)
        return made

    content, style = path_of(args.content, 1, "photo.png"), path_of(args.style, 2, "painting.png")
    env = {"NST_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "NST_CACHE_DIR": str(work / "cache")}
    if quick:
        env.update(tiny_models(work), **QUICK_LIMITS)
        models = "tiny random models (VGG19, CycleGAN ngf 4)"
    else:
        env.update(
            NST_BACKBONE="vgg16",
            NST_VGG16_WEIGHTS=args.vgg_weights,
            NST_CYCLEGAN_MONET_FILE=args.painter_weights,
        )
        models = "VGG16 and the vintage CycleGAN generator from ../shared/weights"
    base = GPU_DEFAULTS if cuda else CPU_DEFAULTS
    size, steps, scales = (
        min(base.size, int(QUICK_LIMITS["NST_MAX_SIZE"])) if quick else base.size,
        min(base.steps, int(QUICK_LIMITS["NST_MAX_STEPS"])) if quick else base.steps,
        base.scales,
    )
    defaults = f"{size} px, {steps} steps over {scales} scales"

    app = None
    try:
        t = time.perf_counter()
        app = AppProcess(env)
        started = time.perf_counter() - t
        from gradio_client import handle_file

        client = client_for(app.url)

        def warm_up() -> tuple[str, str, bool | None]:
            t = time.perf_counter()
            call(
                client, handle_file(str(content)), handle_file(str(style)), steps=2, api_name="/gatys"
            )  # the defaults' sizes at both scales: kernels, targets
            gatys = time.perf_counter() - t
            t = time.perf_counter()
            call(client, handle_file(str(content)), painter="monet", max_size=64, api_name="/cyclegan")
            painter = time.perf_counter() - t
            return (
                f"app.py answering {started:.1f} s after its start; first /gatys call (2 steps at {size} px) "
                f"{gatys:.1f} s, first /cyclegan {painter:.1f} s",
                "",
                None,
            )

        check.part(f"server started ({device}, {models}) and warmed up", warm_up)

        def page() -> tuple[str, str, bool | None]:
            seen = page_run(app.url, content, style, CALL_TIMEOUT_S)
            status = seen["status"].split(". Download")[0]
            shown = seen["dials"]
            return (
                f"first picture {seen['first_picture']:.2f} s, finished picture {seen['done']:.2f} s after the "
                f"click (status line first changed at {seen['answer']:.2f} s; {seen['pictures']} pictures shown; "
                f"dials {shown['size']} px, {shown['steps']} steps, {shown['scales']} scales; "
                f'status "{status}")',
                "",
                None,
            )

        check.part(f"page in Chromium: upload, Run at the defaults ({defaults})", page)

        def one_client() -> tuple[str, str, bool | None]:
            job = client.submit(handle_file(str(content)), handle_file(str(style)), api_name="/gatys")
            seen = watch(job)
            info = seen["info"]
            first = seen["first_preview"]
            return (
                f"first preview {'none' if first is None else f'{first:.2f} s'}, picture {seen['seconds']:.2f} s "
                f"after the submit ({seen['previews']} previews; {info['width']}x{info['height']} px, "
                f"{info['steps']} steps, server's own {info['seconds']:.2f} s)",
                "",
                None,
            )

        check.part(f"gradio_client /gatys at the defaults ({defaults})", one_client)

        def concurrent() -> tuple[str, str, bool | None]:
            return many_clients(app, concurrency, work, cuda)

        check.part(f"{concurrency} clients at once (/gatys, the defaults)", concurrent)

        for side in (64, 128) if quick else (512, 1024):

            def painter(side: int = side) -> tuple[str, str, bool | None]:
                photo = work / f"photo-{side}.png"
                shot = Image.open(content).convert("RGB")
                shot.thumbnail((side, side))
                if max(shot.size) < side:  # a small photo: enlarged, so the call paints ``side`` px
                    scale = side / max(shot.size)
                    shot = shot.resize((round(shot.width * scale), round(shot.height * scale)))
                shot.save(photo)
                times, own = [], []
                for _ in range(repeats):
                    t = time.perf_counter()
                    _, info = call(
                        client, handle_file(str(photo)), painter="monet", max_size=side, api_name="/cyclegan"
                    )
                    times.append(time.perf_counter() - t)
                    own.append(info["seconds"])
                return (
                    f"{statistics.median(times):.3f} s per call (median of {repeats}, {min(times):.3f}–"
                    f"{max(times):.3f}); server's own {statistics.median(own):.3f} s; "
                    f"{info['width']}x{info['height']} px",
                    "",
                    None,
                )

            check.part(f"CycleGAN at {side} px (/cyclegan)", painter)

        reference: dict[str, np.ndarray] = {}
        for precision in ["fp32", "bf16"] + (["fp16"] if cuda else []):

            def half(precision: str = precision) -> tuple[str, str, bool | None]:
                t = time.perf_counter()
                image, info = call(
                    client,
                    handle_file(str(content)),
                    handle_file(str(style)),
                    precision=precision,
                    api_name="/gatys",
                )
                seconds = time.perf_counter() - t
                losses = info["losses"]
                finite = bool(losses) and all(np.isfinite(v) for v in losses.values())
                is_picture, spread = sane(image)
                pixels = np.asarray(Image.open(image).convert("RGB"), dtype=np.float64)
                if precision == "fp32":
                    reference["fp32"] = pixels
                    against = ""
                elif "fp32" in reference and reference["fp32"].shape == pixels.shape:
                    difference = np.abs(pixels - reference["fp32"]).mean()
                    against = f"; mean absolute difference from the fp32 picture {difference:.1f}/255"
                else:
                    against = "; no fp32 picture to compare with"
                total = losses.get("total", float("nan"))
                return (
                    f"{seconds:.2f} s (server's own {info['seconds']:.2f} s), final loss {total:.4g}, losses "
                    f"{'finite' if finite else '**not finite**'}, picture spread {spread:.0f}{against}",
                    "finite losses, a picture",
                    finite and is_picture,
                )

            check.part(f"precision {precision} (/gatys at the defaults)", half)
    except Exception as exc:  # the server did not start: written down, as a part's failure is
        check.rows.append(f"| app.py started | failed: {type(exc).__name__}: {str(exc)[-300:]} | | **no** |")
    finally:
        if app is not None:
            app.stop(signal.SIGTERM)
            Path(app.log.name).unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)

    name = torch.cuda.get_device_name().replace(" ", "-").lower() if cuda else "cpu"
    name += "-quick" if quick else ""
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"gpu-app-{name}.md"
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    lines = [
        f"## The GPU as a whole app — {time.strftime('%Y-%m-%d %H:%M')}{' (--quick)' if quick else ''}",
        "",
        f"Machine: {machine()}. `python benchmarks/gpu_app.py{' --quick' if quick else ''}`: app.py on "
        f"127.0.0.1 on the {device}, {models}, the page's defaults {defaults}, OMP_NUM_THREADS={threads}, "
        f"{time.perf_counter() - check.start:.0f} s in all.",
        "",
        "| part | measured | target | met |",
        "|---|---|---|---|",
        *check.rows,
        "",
    ]
    append_results(out, "\n".join(lines))


def many_clients(app: AppProcess, n: int, work: Path, cuda: bool) -> tuple[str, str, bool | None]:
    """``n`` clients submit at once, each its own flat-coloured photo as its own style at the defaults; the
    answer must keep that photo's colour (nearest of all sent). Memory sampled meanwhile, per user's run."""
    from gradio_client import handle_file

    pics = photos(work, n)
    colours = np.stack([c for _, c in pics])
    clients = [client_for(app.url) for _ in range(n)]  # made first: a Client reads the config once
    read = gpu_memory_reader() if cuda else None
    what = "GPU memory in use (nvidia-smi)"
    if read is None:
        what = "server's resident memory" + (" (no nvidia-smi)" if cuda else "")
        read = lambda: rss_mb(app.proc.pid)  # noqa: E731
    rows: list[dict] = [{} for _ in range(n)]
    go = threading.Barrier(n)

    def user(i: int) -> None:
        path = str(pics[i][0])
        go.wait()
        t = time.perf_counter()
        try:
            job = clients[i].submit(handle_file(path), handle_file(path), api_name="/gatys")
            seen = watch(job)
            got = np.asarray(Image.open(seen["image"]).convert("RGB"), dtype=np.float64)
            nearest = int(np.argmin(np.abs(colours - got.reshape(-1, 3).mean(0)).sum(1)))
            ran = min((seen["states"].get(s, seen["seconds"]) for s in ("preparing", "running")), default=0)
            rows[i] = {
                "ok": True,
                "own": nearest == i,
                "seconds": seen["seconds"],
                "ran_from": t + ran,
                "ran_to": seen["end"],
                "waited": ran,
            }
        except Exception as exc:  # counted and written down, never dropped
            rows[i] = {"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:160]}"}

    with Sampler(read) as sampler:
        time.sleep(0.2)
        idle = sampler.peak()
        threads = [threading.Thread(target=user, args=(i,)) for i in range(n)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(CALL_TIMEOUT_S * n)
        wall = time.perf_counter() - start
    answered = [r for r in rows if r.get("ok")]
    own = sum(r["own"] for r in answered)
    failed = [r for r in rows if "error" in r]
    errors = sorted({r["error"].replace("|", "/") for r in failed})  # distinct, and no column breaks
    lost = n - len(answered) - len(failed)
    seconds = sorted(r["seconds"] for r in answered)
    per_user = [sampler.peak(r["ran_from"], r["ran_to"]) for r in answered]
    text = (
        f"{own} of {n} got their own picture back ({len(answered)} answered, {len(failed)} errors, {lost} lost, "
        f"{len(answered) - own} mixed up); seconds per user min / median / max "
        + (
            f"{seconds[0]:.2f} / {statistics.median(seconds):.2f} / {seconds[-1]:.2f}"
            if seconds
            else "— / — / —"
        )
        + f" (all {wall:.1f} s; the longest wait in line {max((r['waited'] for r in answered), default=0):.1f} s); "
        f"{what}: {idle:.0f} MB before, {sampler.peak():.0f} MB at most; during each user's run "
        + (f"{min(per_user):.0f}–{max(per_user):.0f} MB" if per_user else "—")
        + (f"; errors: {'; '.join(errors)}" if errors else "")
    )
    return text, f"{n} of {n} own pictures", own == n


if __name__ == "__main__":
    main()
