"""Load test: many concurrent gradio_client requests against a local server running tiny models.

Starts ``app.py`` in a subprocess on 127.0.0.1 with a random-weight VGG19 and a tiny CycleGAN
generator in a fake Hugging Face cache (offline), then fires ``--requests`` calls from
``--concurrency`` client threads, alternating /cyclegan (strength 0: the answer must be the
caller's own photo, bit for bit) and /gatys (2 steps from a content init, the photo as its own style: the answer's mean
colour must be nearest to the caller's own photo of all photos sent). Every request is
bounded in time; the run stops by itself. Reports failures, mix-ups, latency percentiles and
the server's resident memory before and after, into benchmarks/results/load-<machine>.md.

    python benchmarks/load_test.py [--requests 60] [--concurrency 12]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
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

from bench_gatys import machine  # noqa: E402
from cyclegan_fixtures import fill_hub_cache, tiny_state  # noqa: E402
from nst import catalogue  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return float("nan")


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=60)
    ap.add_argument("--concurrency", type=int, default=12)
    ap.add_argument("--timeout", type=float, default=300, help="seconds any one request may take")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "load-cpu.md"))
    args = ap.parse_args()
    from gradio_client import Client, handle_file

    work = Path(tempfile.mkdtemp(prefix="nst-load-"))
    torch.manual_seed(0)
    vgg = work / "vgg19.safetensors"
    save_file({k: v.contiguous() for k, v in torchvision.models.vgg19().features.state_dict().items()}, str(vgg))
    hub = work / "hub"
    fill_hub_cache(hub, catalogue.get_entry("monet"), tiny_state(0))
    port = free_port()
    env = {**os.environ, "NST_VGG19_WEIGHTS": str(vgg), "HF_HUB_CACHE": str(hub), "HF_HUB_OFFLINE": "1",
           "NST_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_TEMP_DIR": str(work / "gradio")}
    server = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port)], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 120
        while True:
            try:
                Client(url, verbose=False, analytics_enabled=False)
                break
            except Exception:
                if time.time() > deadline or server.poll() is not None:
                    raise SystemExit(f"server did not start: {server.stderr.read() if server.poll() is not None else 'timeout'}")
                time.sleep(1)
        pics = photos(work, 8)
        colours = np.stack([c for _, c in pics])
        # Warm-up: load both models once so the figures show steady-state serving.
        warm = Client(url, verbose=False, analytics_enabled=False)
        warm.predict(handle_file(str(pics[0][0])), style="monet", strength=0.0, api_name="/cyclegan")
        warm.predict(handle_file(str(pics[0][0])), handle_file(str(pics[1][0])), size=48, steps=2, api_name="/gatys")
        rss_before = rss_mb(server.pid)
        local = threading.local()
        results: list[dict] = []
        lock = threading.Lock()

        def one(i: int) -> None:
            if not hasattr(local, "client"):
                local.client = Client(url, verbose=False, analytics_enabled=False)
            k = i % len(pics)
            path, colour = pics[k]
            method = "/cyclegan" if i % 2 == 0 else "/gatys"
            t = time.perf_counter()
            row = {"i": i, "method": method, "ok": False, "mixed": False, "error": ""}
            try:
                if method == "/cyclegan":
                    job = local.client.submit(handle_file(str(path)), style="monet", strength=0.0, api_name=method)
                else:
                    # Its own photo as the style too: the answer must keep the caller's colours.
                    job = local.client.submit(handle_file(str(path)), handle_file(str(path)),
                                              size=48, steps=2, api_name=method)
                image_path, info = job.result(timeout=args.timeout)
                got = np.asarray(Image.open(image_path).convert("RGB"))
                if method == "/cyclegan":
                    row["mixed"] = not np.array_equal(got, np.asarray(Image.open(path).convert("RGB")))
                else:
                    nearest = int(np.argmin(np.abs(colours - got.reshape(-1, 3).mean(0)).sum(1)))
                    row["mixed"] = nearest != k
                row["ok"] = True
            except Exception as exc:  # counted and reported, never silently dropped
                row["error"] = f"{type(exc).__name__}: {exc}"[:200]
            row["seconds"] = time.perf_counter() - t
            with lock:
                results.append(row)

        start = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            list(pool.map(one, range(args.requests)))
        wall = time.perf_counter() - start
        time.sleep(2)
        rss_after = rss_mb(server.pid)
        alive = server.poll() is None
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()

    ok = [r for r in results if r["ok"]]
    lat = sorted(r["seconds"] for r in ok)
    pct = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")  # noqa: E731
    errors = sorted({r["error"] for r in results if not r["ok"]})
    mixed = [f"{r['method']} #{r['i']}" for r in ok if r["mixed"]]
    lines = [
        f"## Load test — {time.strftime('%Y-%m-%d %H:%M')}", "",
        f"Machine: {machine()}. Server: app.py on 127.0.0.1, tiny models (random VGG19 at 48 px, 2 steps; "
        f"CycleGAN ngf 4 strength 0), default queue settings.", "",
        "| requests | concurrency | answered | failed | mixed up | lost | p50 s | p90 s | p99 s | max s | wall s | req/s | server RSS before → after (MB) | server alive |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        f"| {args.requests} | {args.concurrency} | {len(ok)} | {len(results) - len(ok)} | {sum(r['mixed'] for r in ok)} | "
        f"{args.requests - len(results)} | {pct(0.5):.2f} | {pct(0.9):.2f} | {pct(0.99):.2f} | {max(lat, default=float('nan')):.2f} | "
        f"{wall:.1f} | {len(ok) / wall:.2f} | {rss_before:.0f} → {rss_after:.0f} | {alive} |",
    ]
    if errors:
        lines += ["", "Errors: " + "; ".join(errors)]
    if mixed:
        lines += ["", "Mixed up: " + ", ".join(mixed)]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
