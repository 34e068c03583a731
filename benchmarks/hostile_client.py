"""A hostile client against a real server: what each attack costs the server, before and after hardening.

Starts ``app.py`` (from ``--app-dir``, so an older checkout can be measured with the same
script) in a subprocess on 127.0.0.1 with the real VGG16 weights from ``../shared``, then, one
attack at a time, records what the client got back, the server's peak resident memory above
its idle level while the attack ran (sampled every 20 ms from /proc), and how long it took.
Also: how soon a cancelled or abandoned run frees the worker, and how many of a burst of
uploads are still on disk once older than ``NST_CACHE_SECONDS``.

    python benchmarks/hostile_client.py [--app-dir DIR] [--label after] [--quick]

Results go to ``benchmarks/results/hostile-<label>.md`` with the machine named.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import signal
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
VGG16 = SHARED / "weights" / "vgg16-imagenet-features.safetensors"
PHOTO = SHARED / "images" / "content" / "tubingen.jpg"
PAINTING = SHARED / "images" / "styles" / "starry_night.jpg"
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

from measure import Peak, machine, rss_mb  # noqa: E402

from support.http import AppProcess, body_for, fn_index, join_queue, parameters, raw_call, upload  # noqa: E402


class Server(AppProcess):
    """The app on a free port, and what this script asks of it (uploads, raw calls), by name."""

    def __init__(self, app_dir: Path, env: dict[str, str]) -> None:
        super().__init__({**env, "MALLOC_ARENA_MAX": "2"}, cwd=app_dir)

    def upload(self, path: Path) -> dict:
        return upload(self.url, path)

    def params(self, api: str) -> list[dict]:
        return parameters(self.url, api)

    def call(
        self, api: str, values: dict, timeout: float = 600, body: str | None = None
    ) -> tuple[str, object]:
        """The last event of a raw call ('complete' or 'error') and its data; an older app.py names the
        CycleGAN painter ``style``, this one ``painter``: the values say ``style`` and are mapped."""
        if (
            body is None
            and "style" in values
            and not any(p["parameter_name"] == "style" for p in self.params(api))
        ):
            values = {**{k: v for k, v in values.items() if k != "style"}, "painter": values["style"]}
        event, data = raw_call(self.url, api, values, body=body, timeout=timeout)
        return str(event), data


def short(data: object, n: int = 160) -> str:
    text = data if isinstance(data, str) else json.dumps(data)
    return text.replace("|", "/").replace("\n", " ")[:n]


def tiny_gif_declaring(width: int, height: int) -> bytes:
    """A GIF of a few dozen bytes whose header declares width x height (one LZW code: mostly empty)."""
    im = Image.new("P", (width, height), 0)
    buf = io.BytesIO()
    im.save(buf, format="GIF")
    return buf.getvalue()


def measure_cancel(
    server: Server, content: dict, style: dict, values: dict, when: str
) -> tuple[float, float]:
    """Start a long run, hang up (``when``: after its first progress event, or half a second after it
    started), and time a one-step run: (seconds from hang-up to its answer, its own time alone)."""
    body = body_for(server.url, "gatys", {"content": content, "style": style, **values})
    session = join_queue(server.url, fn_index(server.url, "gatys"), body)
    marker = '"process_starts"' if when == "started" else '"process_generating"'
    with httpx.stream(
        "GET", f"{server.url}gradio_api/queue/data", params={"session_hash": session}, timeout=600
    ) as stream:
        for line in stream.iter_lines():
            if marker in line:
                time.sleep(0.5 if when == "started" else 0)
                break
    hung_up = time.perf_counter()
    server.call("gatys", {"content": content, "style": style, "size": 32, "steps": 1})
    answered = time.perf_counter() - hung_up
    t = time.perf_counter()
    server.call("gatys", {"content": content, "style": style, "size": 32, "steps": 1})
    return answered, time.perf_counter() - t


def scratch_server(prefix: str) -> tuple[Path, Path, dict[str, str]]:
    """A scratch folder, the cache folder in it and the environment of a server on the real VGG16 weights,
    offline, that writes nowhere else (both rounds of attacks start theirs so)."""
    if not VGG16.is_file():
        sys.exit(f"needs the real weights: {VGG16}")
    work = Path(tempfile.mkdtemp(prefix=prefix))
    cache = work / "cache"
    env = {
        "NST_BACKBONE": "vgg16",
        "NST_VGG16_WEIGHTS": str(VGG16),
        "NST_CACHE_DIR": str(cache),
        "TMPDIR": str(work),
        "NST_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
    }
    return work, cache, env


def files_in(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".nst")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--app-dir", type=Path, default=ROOT)
    ap.add_argument("--label", default="after")
    ap.add_argument(
        "--quick", action="store_true", help="skip the slow memory attacks (style_scale 4 at 1024 px)"
    )
    ap.add_argument("--burst", type=int, default=1500, help="uploads in the burst")
    args = ap.parse_args()
    work, cache, env = scratch_server("nst-hostile-")
    env.update(NST_CACHE_SECONDS="3600", GRADIO_TEMP_DIR=str(cache))
    rows: list[tuple[str, str, str, str]] = []  # attack, answer, peak MB over idle, seconds

    def record(name: str, answer: object, peak: Peak | None = None) -> None:
        rows.append(
            (name, short(answer), f"{peak.delta:.0f}" if peak else "", f"{peak.seconds:.1f}" if peak else "")
        )
        print(rows[-1], flush=True)

    server = Server(args.app_dir, env)
    try:
        pid = server.proc.pid
        content, style = server.upload(PHOTO), server.upload(PAINTING)
        idle = rss_mb(pid)

        # 1. files named by path
        for label, path in [
            ("existing image", str(PHOTO)),
            ("/etc/shadow", "/etc/shadow"),
            ("missing path", "/nonexistent/x.png"),
            ("empty path", ""),
        ]:
            with Peak(pid) as p:
                event, data = server.call(
                    "cyclegan", {"content": {"path": path}, "style": "monet", "strength": 0, "max_size": 1024}
                )
            record(f"path without meta: {label}", f"{event}: {data}", p)
        with Peak(pid) as p:
            event, data = server.call(
                "cyclegan",
                {
                    "content": {
                        "path": "https://example.com/photo.png",
                        "meta": {"_type": "gradio.FileData"},
                    },
                    "strength": 0,
                },
            )
        record("URL in a file payload", f"{event}: {data}", p)
        with Peak(pid) as p:
            event, data = server.call("cyclegan", {"content": "/etc/passwd", "strength": 0})
        record("raw string as file payload", f"{event}: {data}", p)

        def small(api: str, timeout: float = 600, **extra: object) -> tuple[str, object]:
            """A one-step run at 64 px with ``extra`` settings: what the work-bounding attacks send."""
            return server.call(
                api, {"content": content, "style": style, "size": 64, "steps": 1, **extra}, timeout=timeout
            )

        # 2. bounded work
        for n in (2000, 200_000):
            try:
                with Peak(pid) as p:
                    event, data = small("gatys", timeout=90, style_layers=",".join(["conv1_1"] * n))
                record(f"style_layers {n} x conv1_1 at 64 px", f"{event}: {data}", p)
            except httpx.TimeoutException:
                record(f"style_layers {n} x conv1_1 at 64 px", "no answer within 90 s (server restarted)", p)
                server.stop(signal.SIGKILL)
                server = Server(args.app_dir, env)
                pid, content, style = server.proc.pid, server.upload(PHOTO), server.upload(PAINTING)
        with Peak(pid) as p:
            event, data = small("histogram", timeout=900, hist_layers=",".join(["relu1_1"] * 1000))
        record("hist_layers 1000 x relu1_1 at 64 px", f"{event}: {short(data)}", p)
        with Peak(pid) as p:
            event, data = small("gatys", style_layers="conv1_1,conv1_1,conv5_1", style_layer_weights="1,1,0")
        record("style_layers conv1_1,conv1_1,conv5_1 with weights 1,1,0", f"{event}: {data}", p)
        for when, values in [
            ("progress", {"size": 384, "steps": 2000}),
            ("started", {"size": 1024, "steps": 5, "style_scale": 2.0, "extra_styles": [style, style]}),
        ]:
            answered, alone = measure_cancel(server, content, style, values, when)
            rows.append(
                (
                    f"hang up {'mid-run' if when == 'progress' else 'during setup'} "
                    f"({short(values, 90)}): next 1-step run answered after",
                    f"{answered:.1f} s (alone: {alone:.1f} s)",
                    "",
                    f"{answered:.1f}",
                )
            )
            print(rows[-1], flush=True)

        # 3. memory
        gif = work / "bomb.gif"
        gif.write_bytes(tiny_gif_declaring(7000, 7000))
        gifs = [server.upload(gif) for _ in range(6)]
        for n in (1, 6):
            with Peak(pid) as p:
                event, data = server.call(
                    "gatys",
                    {"content": content, "style": style, "size": 64, "steps": 1, "extra_styles": gifs[:n]},
                    timeout=900,
                )
            record(
                f"extra_styles: {n} x {gif.stat().st_size}-byte GIF declaring 7000x7000",
                f"{event}: {data}",
                p,
            )
        with Peak(pid) as p:
            event, data = server.call(
                "gatys",
                {
                    "content": content,
                    "style": style,
                    "size": 64,
                    "steps": 1,
                    "masks": gifs[:4],
                    "extra_styles": gifs[:3],
                },
                timeout=900,
            )
        record("masks: 4 x the same GIF", f"{event}: {data}", p)
        if not args.quick:
            for scale, extra in [(4.0, []), (2.0, []), (2.0, [style, style])]:
                with Peak(pid) as p:
                    event, data = server.call(
                        "gatys",
                        {
                            "content": content,
                            "style": style,
                            "size": 1024,
                            "steps": 1,
                            "style_scale": scale,
                            "extra_styles": extra,
                        },
                        timeout=1800,
                    )
                record(
                    f"size 1024, style_scale {scale:g}, {1 + len(extra)} style(s), 1 step",
                    f"{event}: {short(data, 80)}",
                    p,
                )

        # 5. data: URLs
        big = work / "big.png"
        rng = np.random.default_rng(0)
        Image.fromarray(rng.integers(0, 255, (3000, 3000, 3), dtype=np.uint8)).save(big, compress_level=0)
        url = "data:image/png;base64," + base64.b64encode(big.read_bytes()).decode()
        with Peak(pid) as p:
            event, data = server.call(
                "cyclegan",
                {"content": {"url": url, "path": None, "meta": {"_type": "gradio.FileData"}}, "strength": 0},
            )
        record(f"data: URL of {len(url) / 1e6:.1f} MB", f"{event}: {short(data, 90)}", p)
        huge = work / "huge.png"
        Image.new("RGB", (10000, 10000), (200, 100, 50)).save(huge)
        url = "data:image/png;base64," + base64.b64encode(huge.read_bytes()).decode()
        with Peak(pid) as p:
            event, data = server.call(
                "cyclegan",
                {"content": {"url": url, "path": None, "meta": {"_type": "gradio.FileData"}}, "strength": 0},
            )
        record(f"data: URL of a 100-megapixel PNG ({huge.stat().st_size // 1024} KB)", f"{event}: {data}", p)

        # 9. numbers
        digits = "9" * 400
        for api, field in [("gatys", "size"), ("gatys", "style_weight"), ("cyclegan", "max_size")]:
            given = (
                {"content": content, "strength": 0}
                if api == "cyclegan"
                else {"content": content, "style": style}
            )
            data = [given.get(p["parameter_name"], p.get("parameter_default")) for p in server.params(api)]
            names = [p["parameter_name"] for p in server.params(api)]
            text = json.dumps({"data": data})
            # splice the 400-digit number in as raw JSON
            parts = json.loads(text)["data"]
            parts[names.index(field)] = "__BIG__"
            body = json.dumps({"data": parts}).replace('"__BIG__"', digits)
            event, answer = server.call(api, {}, body=body)
            record(f"400-digit integer as {api} {field}", f"{event}: {answer}")
        event, answer = server.call(
            "gatys",
            {
                "content": content,
                "style": style,
                "size": 64,
                "steps": 1,
                "extra_styles": [style],
                "style_blend": "1e308,1e308",
            },
        )
        record("style_blend 1e308,1e308", f"{event}: {answer}")
        event, answer = server.call("cyclegan", {"content": content, "strength": 0, "max_size": 16})
        record("cyclegan max_size 16 on a 4:3 photo", f"{event}: {answer}")

        # 8. accepted inputs that crashed
        pano = work / "pano.png"
        Image.fromarray(rng.integers(0, 255, (40, 480, 3), dtype=np.uint8)).save(pano)
        pano_up = server.upload(pano)
        for values in ({"size": 128, "scales": 1}, {"size": 256, "scales": 2, "steps": 2}):
            event, answer = server.call("gatys", {"content": pano_up, "style": style, "steps": 1, **values})
            record(f"12:1 panorama, {values}", f"{event}: {short(answer, 100)}")
        event, answer = server.call(
            "gatys", {"content": content, "style": style, "size": 64, "scales": 3, "steps": 3}
        )
        record("size 64, 3 scales on a 4:3 photo", f"{event}: {short(answer, 100)}")
        event, answer = server.call(
            "gatys", {"content": content, "style": pano_up, "size": 128, "steps": 1, "style_scale": 0.05}
        )
        record("style_scale 0.05 with a 12:1 style", f"{event}: {short(answer, 100)}")

        # 4. files: a burst of distinct uploads, then wait past NST_CACHE_SECONDS
    finally:
        server.stop(signal.SIGTERM)
    server = Server(args.app_dir, {**env, "NST_CACHE_SECONDS": "2"})
    try:
        before = set(files_in(cache))

        def one(i: int) -> None:
            arr = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
            arr[0, 0] = (i % 256, i // 256 % 256, 7)
            path = work / f"burst{i}.png"
            Image.fromarray(arr).save(path)
            server.upload(path)

        t = time.perf_counter()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(one, range(args.burst)))
        burst_s = time.perf_counter() - t
        made = set(files_in(cache)) - before
        time.sleep(12)
        left = [f for f in files_in(cache) if time.time() - f.stat().st_ctime > 2.5]
        rows.append(
            (
                f"burst of {args.burst} distinct uploads, NST_CACHE_SECONDS=2",
                f"{len(made)} files written in "
                f"{burst_s:.1f} s; 12 s later {len(left)} files older than 2.5 s remain",
                "",
                "",
            )
        )
        print(rows[-1], flush=True)
        one(args.burst + 1)
    finally:
        server.stop(signal.SIGTERM)
    left = files_in(cache)
    results_dirs = list(Path(work).glob("nst-results-*"))
    rows.append(
        (
            "after SIGTERM",
            f"{len(left)} files left in the cache folder; {len(results_dirs)} nst-results-* "
            f"folders in TMPDIR",
            "",
            "",
        )
    )
    print(rows[-1], flush=True)
    server = Server(args.app_dir, env)
    try:
        time.sleep(1)
        rows.append(
            ("restart", f"{len(files_in(cache))} files in the cache folder after the next start", "", "")
        )
    finally:
        server.stop(signal.SIGKILL)

    write_table(
        f"hostile-{args.label}.md",
        f"Hostile client against app.py from `{args.app_dir}` ({args.label})",
        f"Real VGG16 weights; server idle RSS {idle:.0f} MB. Peak: the server's resident memory above its "
        "level when the attack started (sampled every 20 ms).",
        rows,
    )


def write_table(name: str, title: str, note: str, rows: list[tuple[str, str, str, str]]) -> None:
    """The attacks' table, with the machine named, as ``benchmarks/results/<name>``."""
    out = ROOT / "benchmarks" / "results" / name
    lines = [
        f"# {title}",
        "",
        f"Machine: {machine()}. {note}",
        "",
        "| attack | what the client got | peak MB | s |",
        "|---|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
