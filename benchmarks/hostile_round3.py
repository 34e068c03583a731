"""The third round of hostile calls (issue 20), answer and cost of each, before and after hardening.

Starts ``app.py`` from ``--app-dir`` (an older checkout can be measured with the same script) with the
real VGG16 weights from ``../shared`` and the default limits (uploads 20mb, size 1024 on a CPU), then
sends, one at a time: oversized request bodies to each kind of route, integer and NaN TIFFs, data: URLs
in file lists, odd paths, requests with too few or too many values, and the values whose messages a
person could not act on. For each it records what the client got back, the server's peak resident
memory above its level before the call (sampled every 20 ms) and the time.

    python benchmarks/hostile_round3.py [--app-dir DIR] [--label after]

Results: ``benchmarks/results/hostile-round3-<label>.md`` with the machine named.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import signal
import sys
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

from hostile_client import PAINTING, PHOTO, Server, scratch_server, short, write_table  # noqa: E402
from measure import Peak, rss_mb  # noqa: E402

from support.http import body_for, fn_index, gallery_selects, parameters  # noqa: E402

MB = 1024 * 1024


def post(url: str, content: bytes, content_type: str = "application/json") -> str:
    """POST a body as it is; the HTTP status and the start of the answer (or how the connection ended)."""
    try:
        r = httpx.post(url, content=content, headers={"Content-Type": content_type}, timeout=120)
    except httpx.HTTPError as exc:
        return f"connection: {type(exc).__name__}"
    return f"http {r.status_code}: {short(r.text, 140)}"


def big_json(server: Server, api: str, megabytes: int) -> bytes:
    """A call of ``api`` whose first text parameter holds ``megabytes`` of text."""
    params = parameters(server.url, api)
    values = [p.get("parameter_default") for p in params]
    text = next(i for i, p in enumerate(params) if p["type"].get("type") == "string")
    values[text] = "x" * (megabytes * MB)
    return json.dumps({"data": values}).encode()


def data_url(image: Image.Image, fmt: str = "JPEG", **save: object) -> dict:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save)
    mime = f"image/{fmt.lower()}"
    url = f"data:{mime};base64," + base64.b64encode(buffer.getvalue()).decode()
    return {"url": url, "path": None, "meta": {"_type": "gradio.FileData"}}


def tiff(array: np.ndarray, mode: str, path: Path) -> Path:
    Image.fromarray(array, mode=mode).save(path, format="TIFF")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--app-dir", type=Path, default=ROOT)
    ap.add_argument("--label", default="after")
    args = ap.parse_args()
    work, cache, env = scratch_server("nst-hostile3-")
    rows: list[tuple[str, str, str, str]] = []
    server = Server(args.app_dir, env)
    pid = server.proc.pid

    def record(name: str, call, *a: object, **kw: object) -> object:
        with Peak(pid) as p:
            answer = call(*a, **kw)
        rows.append((name, short(answer, 220), f"{p.delta:.0f}", f"{p.seconds:.1f}"))
        print(rows[-1], flush=True)
        return answer

    def api(name: str, values: dict, body: str | None = None) -> str:
        event, data = server.call(name, values, body=body, timeout=300)
        if event == "complete" and isinstance(data, list) and data and isinstance(data[0], dict):
            with Image.open(data[0]["path"]) as im:
                grey = np.asarray(im.convert("L"))
            return f"complete: a picture of {len(np.unique(grey))} grey levels, mean {grey.mean():.0f}"
        return f"{event}: {data}"

    try:
        content, style = server.upload(PHOTO), server.upload(PAINTING)
        fast = {"size": 64, "steps": 1}
        idle = rss_mb(pid)

        # 1. request bodies
        base = server.url + "gradio_api/"
        for mb in (50, 200):
            record(
                f"{mb} MB JSON body to call/gatys", post, base + "call/gatys", big_json(server, "gatys", mb)
            )
        join = json.loads(big_json(server, "gatys", 50))
        join.update(
            fn_index=fn_index(server.url, "gatys"), session_hash="flood", event_data=None, trigger_id=None
        )
        record("50 MB JSON body to queue/join", post, base + "queue/join", json.dumps(join).encode())
        record("50 MB JSON body to run/gatys", post, base + "run/gatys", big_json(server, "gatys", 50))
        record("50 MB JSON body to api/gatys", post, base + "api/gatys", big_json(server, "gatys", 50))
        record("50 MB JSON body to cancel", post, base + "cancel", b'{"x":"' + b"x" * (50 * MB) + b'"}')
        boundary = "nstboundary"
        multipart = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.png"\r\n'
                "Content-Type: image/png\r\n\r\n"
            ).encode()
            + b"\0" * (50 * MB)
            + f"\r\n--{boundary}--\r\n".encode()
        )
        record(
            "50 MB multipart upload",
            post,
            base + "upload",
            multipart,
            f"multipart/form-data; boundary={boundary}",
        )

        # 2. pictures
        ramp = np.linspace(-(2**31), 2**31 - 1, 64 * 64).reshape(64, 64).astype(np.int32)
        for name, array, mode in (
            ("32-bit integer TIFF, a full-range ramp (expected: 256 grey levels)", ramp, "I"),
            ("float TIFF holding NaN", np.where(np.eye(64, dtype=bool), np.nan, 0.5).astype(np.float32), "F"),
        ):
            up = server.upload(tiff(array, mode, work / f"{mode}.tif"))
            record(name, api, "cyclegan", {"content": up, "strength": 0})

        # 3. data: URLs in lists
        small = Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8))
        for field in ("extra_styles", "masks"):
            values = {"content": content, "style": style, **fast, field: [data_url(small)]}
            if field == "masks":
                values["masks"] = [data_url(small), data_url(small)]
                values["extra_styles"] = [style]
            record(f"a small JPEG data: URL in {field}", api, "gatys", values)
        noise = Image.fromarray(np.random.default_rng(1).integers(0, 255, (2600, 2600, 3), dtype=np.uint8))
        heavy = data_url(noise, quality=100)
        record(
            f"3 x {len(heavy['url']) / 1e6:.0f} MB JPEG data: URLs in extra_styles",
            api,
            "gatys",
            {"content": content, "style": style, **fast, "extra_styles": [heavy] * 3},
        )

        # 4. paths
        marker = cache / ".nst-cache"
        for name, path in (
            ("NUL byte in a path", str(cache) + "/x\0.png"),
            ("a 5000-character file name", str(cache) + "/" + "a" * 5000 + ".png"),
            ("the cache folder's marker file", str(marker)),
        ):
            payload = {"path": path, "meta": {"_type": "gradio.FileData"}}
            record(name, api, "cyclegan", {"content": payload, "strength": 0})
        gallery = gallery_selects(httpx.get(server.url + "config", timeout=30).json())[0]

        def pick() -> str:
            session = "pick" + str(time.time())
            join = {"data": [], "fn_index": gallery, "session_hash": session, "event_data": {"index": 0}}
            httpx.post(base + "queue/join", json=join, timeout=30).raise_for_status()
            with httpx.stream(
                "GET", base + "queue/data", params={"session_hash": session}, timeout=60
            ) as stream:
                done = "".join(line for line in stream.iter_lines() if "process_completed" in line)
            return done

        record("the page's example pick without a value", pick)

        # 5. messages
        record(
            "a 35 MB data: URL (limit set as 20mb)",
            api,
            "cyclegan",
            {"content": data_url(noise.resize((3400, 3400)), "PNG", compress_level=0), "strength": 0},
        )
        for size in (2000, 10000):
            record(
                f"size {size} on a server whose limit is 1024",
                api,
                "gatys",
                {"content": content, "style": style, "size": size, "steps": 1},
            )
        full = body_for(server.url, "gatys", {"content": content, "style": style, **fast})
        record("gatys with 3 values", api, "gatys", {}, json.dumps({"data": full[:3]}))
        record("gatys with 5 values too many", api, "gatys", {}, json.dumps({"data": full + [1] * 5}))
        for painter in ("MONET", "Monet  ", "m" * 5000):
            record(
                f"painter {short(painter, 20)}",
                api,
                "cyclegan",
                {"content": content, "painter": painter, "strength": 0},
            )
        record(
            "optimizer 'LBFGS'",
            api,
            "gatys",
            {"content": content, "style": style, **fast, "optimizer": "LBFGS"},
        )
        digits = "9" * 400
        body = json.dumps({"data": full}).replace(json.dumps(full[2]), digits, 1)
        record("400-digit size", api, "gatys", {}, body)
        info = httpx.get(server.url + "gradio_api/info", timeout=30).json()
        content_param = info["named_endpoints"]["/gatys"]["parameters"][0]
        rows.append(("API page: content's description", short(content_param.get("python_type"), 220), "", ""))

        # 6. URLs named in every endpoint
        link = {
            "path": "https://example.com/x.png",
            "url": "https://example.com/x.png",
            "meta": {"_type": "gradio.FileData"},
        }
        for name, values in (
            ("photorealistic", {"content": link, "style": style, **fast}),
            ("texture", {"style": link, "steps": 1, "width": 64, "height": 64}),
            ("cyclegan", {"content": link, "strength": 0}),
        ):
            record(f"a link as the {name} endpoint's image", api, name, values)
    finally:
        server.stop(signal.SIGTERM)

    write_table(
        f"hostile-round3-{args.label}.md",
        f"Hostile client, round three, against app.py from `{args.app_dir}` ({args.label})",
        f"Real VGG16 weights, default limits; server idle RSS {idle:.0f} MB. Peak: the server's resident "
        "memory above its level when the call started (sampled every 20 ms).",
        rows,
    )


if __name__ == "__main__":
    main()
