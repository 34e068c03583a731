"""Load test: many concurrent gradio_client requests against a local server running tiny models.

Starts ``app.py`` in a subprocess on 127.0.0.1 with a random-weight VGG19 and a tiny CycleGAN
generator in a fake Hugging Face cache (offline), then fires ``--requests`` calls from
``--concurrency`` client threads, alternating /cyclegan (strength 0: the answer must be the
caller's own photo, bit for bit) and /gatys (2 steps from a content init, the photo as its own style: the answer's mean
colour must be nearest to the caller's own photo of all photos sent). Every request is
bounded in time; the run stops by itself. Reports failures, mix-ups, latency percentiles, the
status each caller saw while waiting (queued, with its position), the server's resident memory
before and after, and the files in the server's cache folder right after the run and once they
are older than the app's NST_CACHE_SECONDS, into benchmarks/results/load-cpu.md.

Then leaving: ``--cancels`` times a long run (VGG19 at 384 px, about a second a step here) is left once
at its steps through ``job.cancel()``, and as many times by closing its event stream below
gradio_client (a hang-up: a closed tab, a killed script), on a quiet server and while ``--background``
clients keep sending short runs, while another thread times ``GET /gradio_api/info`` every 20 ms: the
server must keep answering while the run stops (target: under 200 ms), and the machine must be free
within about one step of the client leaving (the server logs that time itself). ``--app-dir``
measures another checkout's ``app.py`` with the same script (before/after; an app.py that does not log
it shows NaN there).

    python benchmarks/load_test.py [--requests 60] [--concurrency 12] [--cache-seconds 10] [--cancels 3]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import httpx  # noqa: E402
from measure import machine, rss_mb  # noqa: E402

from nst import catalogue  # noqa: E402
from support.http import body_for, fn_index, free_port, join_queue, upload  # noqa: E402
from support.painters import fill_hub_cache, tiny_state  # noqa: E402


def photos(folder: Path, n: int) -> list[tuple[Path, np.ndarray]]:
    """n photos of distinct flat colours with a little texture, and their mean colours."""
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        base = np.array([(i * 67) % 256, (i * 151 + 40) % 256, (i * 29 + 90) % 256], dtype=np.float64)
        arr = np.clip(base + rng.normal(0, 6, size=(40, 48, 3)), 0, 255).astype(np.uint8)
        path = folder / f"photo{i}.png"
        Image.fromarray(arr).save(path)
        out.append((path, arr.reshape(-1, 3).mean(0)))
    return out


def tiny_models(work: Path) -> dict[str, str]:
    """A random-weight VGG19 and a tiny CycleGAN generator (as the Monet painter, in a fake Hugging Face cache)
    written into ``work``: the server's environment that points at them, offline."""
    torch.manual_seed(0)
    vgg = work / "vgg19.safetensors"
    save_file(
        {k: v.contiguous() for k, v in torchvision.models.vgg19().features.state_dict().items()}, str(vgg)
    )
    hub = work / "hub"
    fill_hub_cache(hub, catalogue.get_entry("monet"), tiny_state(0))
    return {
        "NST_VGG19_WEIGHTS": str(vgg),
        "HF_HUB_CACHE": str(hub),
        "HF_HUB_OFFLINE": "1",
        "NST_OFFLINE": "1",
    }


LONG = dict(size=384, steps=2000, scales=1)
#: An update of a run at its steps: its state, or (an older app.py, which reports none) a step past 0.
AT_STEPS = re.compile(r'"running"|\["step"\],\s*[1-9]|"step":\s*[1-9]')


def at_steps(info: dict) -> bool:
    return info.get("state", "running" if info.get("step", 0) > 0 else "") == "running"


def freed(log_path: Path) -> list[float]:
    """Every "freed the machine X s after its client left" the server has logged so far."""
    found = re.findall(r"freed the machine ([\d.]+) s after its client left", log_path.read_text())
    return [float(x) for x in found]


def hang_up_when_running(url: str, content: Path, style: Path) -> None:
    """Start a long /gatys run below gradio_client, as the page does, and close the event stream once the run
    is at its steps: a closed tab, a killed script, a dropped connection."""
    values = {"content": upload(url, content), "style": upload(url, style), **LONG}
    session = join_queue(url, fn_index(url, "gatys"), body_for(url, "gatys", values))
    with httpx.stream(
        "GET", f"{url}gradio_api/queue/data", params={"session_hash": session}, timeout=300
    ) as s:
        for line in s.iter_lines():
            # The info's state (or, from an older app.py, its step), whole in the first update and as a diff
            # ("replace", ["state"], ...) after it.
            if line.startswith("data: ") and '"process_generating"' in line and AT_STEPS.search(line):
                return


def leave_once(
    client, url: str, content: Path, style: Path, how: str, log_path: Path, logs_freed: bool = True
) -> dict:
    """Leave a long run once it is at its steps, by ``job.cancel()`` or by hanging up; meanwhile time the
    server's answers to GET /gradio_api/info. How soon the run freed the machine is the server's own figure
    (its log); the next 1-step run's answer is timed here."""
    from gradio_client import handle_file

    before = len(freed(log_path))
    latencies: list[float] = []
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            t = time.perf_counter()
            try:
                httpx.get(f"{url}gradio_api/info", timeout=60)
            except httpx.HTTPError:  # the server went away: the run's own error says why
                return
            latencies.append(time.perf_counter() - t)
            time.sleep(0.02)

    poller = threading.Thread(target=poll)
    poller.start()
    if how == "cancel":
        job = client.submit(handle_file(str(content)), handle_file(str(style)), **LONG, api_name="/gatys")
        deadline = time.monotonic() + 300
        while not any(at_steps(o[1]) for o in job.outputs()) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = time.perf_counter()
        job.cancel()
    else:
        hang_up_when_running(url, content, style)
        left = time.perf_counter()
    deadline = time.monotonic() + (300 if logs_freed else 0)  # an older app.py does not log it
    while len(freed(log_path)) <= before and time.monotonic() < deadline:
        time.sleep(0.05)
    client.predict(
        handle_file(str(content)), handle_file(str(style)), size=32, steps=1, scales=1, api_name="/gatys"
    )
    next_run = time.perf_counter() - left
    done.set()
    poller.join()
    seconds = freed(log_path)[before:]
    return {
        "how": how,
        "freed_s": seconds[0] if seconds else float("nan"),
        "next_run_s": next_run,
        "worst_info_ms": 1000 * max(latencies, default=0.0),
    }


def leaving(
    client, url: str, pics, log_path: Path, repeats: int, background: int, painter: dict, logs_freed: bool
) -> list[dict]:
    """Cancels and hang-ups, alternately, ``repeats`` of each, while ``background`` clients keep sending short
    runs (0: a quiet server)."""
    from gradio_client import Client, handle_file

    stop = threading.Event()

    def keep_busy(k: int) -> None:
        own = Client(url, verbose=False, analytics_enabled=False)
        path = str(pics[k % len(pics)][0])
        while not stop.is_set():
            own.predict(handle_file(path), **painter, strength=0.0, api_name="/cyclegan")
            own.predict(handle_file(path), handle_file(path), size=48, steps=2, api_name="/gatys")

    busy = [threading.Thread(target=keep_busy, args=(k,), daemon=True) for k in range(background)]
    for thread in busy:
        thread.start()
    try:
        return [
            {
                **leave_once(client, url, pics[3][0], pics[4][0], how, log_path, logs_freed),
                "background": background,
            }
            for _ in range(repeats)
            for how in ("cancel", "hang-up")
        ]
    finally:
        stop.set()
        for thread in busy:
            thread.join(timeout=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=60)
    ap.add_argument("--concurrency", type=int, default=12)
    ap.add_argument(
        "--waves",
        type=int,
        default=2,
        help="fire --requests this many times in a row; server memory is read after each wave",
    )
    ap.add_argument("--timeout", type=float, default=300, help="seconds any one request may take")
    ap.add_argument(
        "--cache-seconds",
        type=int,
        default=10,
        help="the server's NST_CACHE_SECONDS: temporary files older than this are deleted",
    )
    ap.add_argument(
        "--cancels",
        type=int,
        default=3,
        help="long runs to cancel, and as many to hang up on, quiet and under load, timing the server",
    )
    ap.add_argument(
        "--background", type=int, default=6, help="clients sending short runs while runs are left"
    )
    ap.add_argument("--app-dir", type=Path, default=ROOT, help="the checkout whose app.py is measured")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "load-cpu.md"))
    args = ap.parse_args()
    from gradio_client import Client, handle_file
    from gradio_client.utils import Status

    work = Path(tempfile.mkdtemp(prefix="nst-load-"))
    models = tiny_models(work)
    port = free_port()
    # The server's log goes to a file (a pipe nobody reads would block the server once full).
    log_path = work / "server.log"
    log = log_path.open("w")
    env = {
        **os.environ,
        **models,
        "GRADIO_ANALYTICS_ENABLED": "False",
        "GRADIO_TEMP_DIR": str(work / "cache"),  # an older app.py writes there
        "NST_CACHE_DIR": str(work / "cache"),
        "NST_CACHE_SECONDS": str(args.cache_seconds),
    }
    server = subprocess.Popen(
        [sys.executable, str(args.app_dir / "app.py"), "--port", str(port)],
        env=env,
        cwd=args.app_dir,
        stdout=subprocess.DEVNULL,
        stderr=log,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 120
        while True:
            try:
                Client(url, verbose=False, analytics_enabled=False)
                break
            except Exception as exc:
                if time.time() > deadline or server.poll() is not None:
                    raise SystemExit(f"server did not start: {log_path.read_text()[-2000:]}") from exc
                time.sleep(1)
        cache = work / "cache"
        cache_files = lambda: {p for p in cache.rglob("*") if p.is_file() and p.name != ".nst-cache"}  # noqa: E731
        examples = cache_files()  # the page's example pictures, kept for the server's lifetime
        pics = photos(work, 8)
        colours = np.stack([c for _, c in pics])
        # Warm-up: load both models once so the figures show steady-state serving.
        warm = Client(url, verbose=False, analytics_enabled=False)
        api = warm.view_api(print_info=False, return_format="dict")["named_endpoints"]
        names = [p["parameter_name"] for p in api["/cyclegan"]["parameters"]]
        painter = {"painter": "monet"} if "painter" in names else {"style": "monet"}  # older app.py: style
        warm.predict(handle_file(str(pics[0][0])), **painter, strength=0.0, api_name="/cyclegan")
        warm.predict(
            handle_file(str(pics[0][0])), handle_file(str(pics[1][0])), size=48, steps=2, api_name="/gatys"
        )
        rss_before = rss_mb(server.pid)
        local = threading.local()
        results: list[dict] = []
        odd: list[str] = []  #: updates a client saw that were not (image, info)
        lock = threading.Lock()

        def one(i: int) -> None:
            if not hasattr(local, "client"):
                local.client = Client(url, verbose=False, analytics_enabled=False)
            k = i % len(pics)
            path, colour = pics[k]
            method = "/cyclegan" if i % 2 == 0 else "/gatys"
            t = time.perf_counter()
            row = {
                "i": i,
                "method": method,
                "ok": False,
                "mixed": False,
                "error": "",
                "queued": False,
                "rank": None,
            }
            try:
                if method == "/cyclegan":
                    job = local.client.submit(
                        handle_file(str(path)), **painter, strength=0.0, api_name=method
                    )
                else:
                    # Its own photo as the style too: the answer must keep the caller's colours.
                    job = local.client.submit(
                        handle_file(str(path)), handle_file(str(path)), size=48, steps=2, api_name=method
                    )
                # What the caller sees while it waits: its place in line (the runner's, in each update's
                # info; an older app.py: Gradio's queue rank), then processing.
                while not job.done():
                    status = job.status()
                    seen = list(job.outputs())
                    odd.extend(repr(o)[:120] for o in seen if not (isinstance(o, tuple) and len(o) == 2))
                    infos = [
                        o[1] for o in seen if isinstance(o, tuple) and len(o) == 2 and isinstance(o[1], dict)
                    ]
                    places = [i.get("position", 0) for i in infos if i.get("state") == "queued"]
                    if status.code == Status.IN_QUEUE and status.rank is not None:
                        places.append(status.rank + 1)
                    if places:
                        row["queued"] = True
                        row["rank"] = max([row["rank"] or 0, *places])
                    if time.perf_counter() - t > args.timeout:
                        break
                    time.sleep(0.05)
                image_path, info = job.result(timeout=max(1.0, args.timeout - (time.perf_counter() - t)))
                got = np.asarray(Image.open(image_path).convert("RGB"))
                if method == "/cyclegan":
                    row["mixed"] = not np.array_equal(got, np.asarray(Image.open(path).convert("RGB")))
                else:
                    nearest = int(np.argmin(np.abs(colours - got.reshape(-1, 3).mean(0)).sum(1)))
                    row["mixed"] = nearest != k
                row["ok"] = True
            except Exception as exc:  # counted and reported, never silently dropped
                where = traceback.extract_tb(exc.__traceback__)[-1]
                row["error"] = f"{type(exc).__name__}: {exc} ({Path(where.filename).name}:{where.lineno})"[
                    :240
                ]
            row["seconds"] = time.perf_counter() - t
            with lock:
                results.append(row)

        start = time.perf_counter()
        rss_waves = []
        for wave in range(args.waves):
            with ThreadPoolExecutor(args.concurrency) as pool:
                list(pool.map(one, range(wave * args.requests, (wave + 1) * args.requests)))
            time.sleep(1)
            rss_waves.append(rss_mb(server.pid))
        wall = time.perf_counter() - start - args.waves
        made = cache_files() - examples
        files_after, bytes_after = len(made), sum(p.stat().st_size for p in made)
        # Gradio checks every half of NST_CACHE_SECONDS; wait until everything from the run is that old.
        time.sleep(args.cache_seconds * 1.5 + 1)
        files_later = len(cache_files() - examples)
        still = Client(url, verbose=False, analytics_enabled=False)
        still.predict(handle_file(str(pics[2][0])), **painter, strength=0.0, api_name="/cyclegan")
        logs_freed = args.app_dir.resolve() == ROOT
        cancels = leaving(still, url, pics, log_path, args.cancels, 0, painter, logs_freed) + leaving(
            still, url, pics, log_path, args.cancels, args.background, painter, logs_freed
        )
        alive = server.poll() is None
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()

    log.close()
    kinds = Counter(
        line.strip()[:160]
        for line in log_path.read_text().splitlines()
        if line and not line[0].isspace() and "Error" in line.split(":")[0]
    )
    server_errors = [f"{kind} (×{n})" for kind, n in sorted(kinds.items())]
    ok = [r for r in results if r["ok"]]
    lat = sorted(r["seconds"] for r in ok)
    pct = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")  # noqa: E731
    errors = sorted({r["error"] for r in results if not r["ok"]})
    mixed = [f"{r['method']} #{r['i']}" for r in ok if r["mixed"]]
    queued = sum(r["queued"] for r in results)
    deepest = max((r["rank"] or 0 for r in results), default=0)
    lines = [
        f"## Load test — {time.strftime('%Y-%m-%d %H:%M')}",
        "",
        f"Machine: {machine()}. Server: {args.app_dir}/app.py on 127.0.0.1, tiny models (random VGG19 at 48 px, "
        "2 steps; CycleGAN ngf 4 strength 0), default queue settings (NST_CONCURRENCY=1: one run at a time; "
        f"NST_QUEUE_SIZE=32), NST_CACHE_SECONDS={args.cache_seconds}, "
        f"MALLOC_ARENA_MAX={os.environ.get('MALLOC_ARENA_MAX', 'unset')}.",
        "",
        "| requests | concurrency | answered | failed | mixed up | lost | seen queued (deepest place) | p50 s | "
        "p90 s | p99 s | max s | wall s | req/s | server RSS before → after each wave (MB) | "
        "uploads/results in cache after → after NST_CACHE_SECONDS | server alive |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        f"| {args.waves} × {args.requests} | {args.concurrency} | {len(ok)} | {len(results) - len(ok)} | "
        f"{sum(r['mixed'] for r in ok)} | {args.waves * args.requests - len(results)} | {queued} ({deepest}) | "
        f"{pct(0.5):.2f} | {pct(0.9):.2f} | {pct(0.99):.2f} | "
        f"{max(lat, default=float('nan')):.2f} | {wall:.1f} | {len(ok) / wall:.2f} | "
        f"{' → '.join(f'{m:.0f}' for m in [rss_before, *rss_waves])} | "
        f"{files_after} ({bytes_after / 1e3:.0f} kB) → {files_later} ({args.cache_seconds} s) | {alive} |",
    ]
    if cancels:
        lines += [
            "",
            f"Leaving a run ({args.app_dir}): long runs (384 px, VGG19) left once at their steps, by "
            "`job.cancel()` or by closing the event stream (hang-up), on a quiet server and with "
            f"{args.background} clients sending short runs meanwhile. *Freed*: the server's own log, from the "
            "client leaving to the machine free for the next run; *next run*: a 1-step run's answer, timed by "
            "the client; *info*: the slowest `GET /gradio_api/info` meanwhile.",
            "",
            "| how | background clients | freed s | next run s | info ms |",
            "|---|---|---|---|---|",
        ]
        for c in sorted(cancels, key=lambda c: (c["how"], c["background"])):
            lines.append(
                f"| {c['how']} | {c['background']} | {c['freed_s']:.2f} | {c['next_run_s']:.1f} | "
                f"{c['worst_info_ms']:.0f} |"
            )
    if errors:
        lines += ["", "Errors: " + "; ".join(errors)]
    if odd:
        lines += [
            "",
            f"Updates that were not (image, info), as gradio_client handed them over: {sorted(set(odd))}",
        ]
    if mixed:
        lines += ["", "Mixed up: " + ", ".join(mixed)]
    if server_errors:
        lines += ["", "Exceptions in the server's log (kinds): " + "; ".join(server_errors)]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
