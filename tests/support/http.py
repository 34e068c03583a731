"""A client below gradio_client, for the requests it cannot or will not send: raw JSON (NaN, 400-digit
numbers, payloads without ``meta``, server paths, links, data: URLs), uploads by hand, hanging up."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
GENERIC = "has not enabled verbose error reporting"  # Gradio's words for an exception it may not show


def upload(server: str, path: Path) -> dict:
    """Upload a file the way clients do; the FileData of its copy in Gradio's upload folder."""
    with path.open("rb") as f:
        r = httpx.post(f"{server}gradio_api/upload", files={"files": (path.name, f)}, timeout=30)
    r.raise_for_status()
    return {"path": r.json()[0], "orig_name": path.name, "meta": {"_type": "gradio.FileData"}}


def parameters(server: str, api_name: str) -> list[dict]:
    info = httpx.get(f"{server}gradio_api/info", timeout=30).json()
    return info["named_endpoints"][f"/{api_name}"]["parameters"]


def body_for(server: str, api_name: str, values: dict) -> list:
    """Every parameter of the endpoint in order: ``values`` where given, the defaults elsewhere."""
    return [values.get(p["parameter_name"], p.get("parameter_default")) for p in parameters(server, api_name)]


def raw_call(
    server: str, api_name: str, values: dict | None = None, *, body: str | None = None, timeout: float = 120
) -> tuple[str | None, object]:
    """POST /gradio_api/call/<api> as raw JSON (``body`` verbatim when given), then read the event stream.
    Returns (event, data) of the last event: 'complete' or 'error' (or the HTTP status when refused)."""
    if body is None:
        body = json.dumps({"data": body_for(server, api_name, values or {})})
    r = httpx.post(
        f"{server}gradio_api/call/{api_name}",
        content=body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    if r.status_code != 200:
        return f"http {r.status_code}", r.text
    event_id = r.json()["event_id"]
    event = None
    with httpx.stream("GET", f"{server}gradio_api/call/{api_name}/{event_id}", timeout=timeout) as stream:
        for line in stream.iter_lines():
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: ") and event in ("complete", "error"):
                text = line[len("data: ") :]
                return event, json.loads(text) if text.strip() not in ("", "null") else None
    return event, None


def error_text(data: object) -> str:
    """The message of an 'error' event."""
    if isinstance(data, dict):
        return str(data.get("error"))
    return json.dumps(data)


def join_queue(server: str, fn_index: int, data: list) -> str:
    """Join the queue as the page does (by index); returns the session hash to read the stream with."""
    session = os.urandom(8).hex()
    r = httpx.post(
        f"{server}gradio_api/queue/join",
        timeout=30,
        json={
            "data": data,
            "fn_index": fn_index,
            "session_hash": session,
            "event_data": None,
            "trigger_id": None,
        },
    )
    r.raise_for_status()
    return session


def fn_index(server: str, api_name: str | None = None, *, private_with_inputs: int | None = None) -> int:
    """The index of the event named ``api_name``, or of the private event with that many inputs (the page's Run)."""
    config = httpx.get(f"{server}config", timeout=30).json()
    for dep in config["dependencies"]:
        if api_name is not None and dep.get("api_name") == api_name:
            return dep["id"]
        if private_with_inputs is not None and len(dep.get("inputs", [])) == private_with_inputs:
            return dep["id"]
    raise LookupError(api_name or private_with_inputs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppProcess:
    """``python app.py`` in a subprocess on a free port, with the given environment; its output in a file
    (a pipe nobody reads would block the server once full)."""

    def __init__(self, env: dict[str, str], cwd: Path = ROOT) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        full = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", **env}
        self.log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [sys.executable, "app.py", "--port", str(self.port)],
            cwd=cwd,
            env=full,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app.py exited with {self.proc.returncode}: {self.output()[-3000:]}")
            try:
                if httpx.get(f"{self.url}gradio_api/info", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        self.proc.kill()
        raise RuntimeError(f"app.py did not start within 120 s: {self.output()[-3000:]}")

    def stop(self, signal_number: int) -> int:
        self.proc.send_signal(signal_number)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def output(self) -> str:
        return Path(self.log.name).read_text()


def event_inputs(server: str, index: int) -> list:
    """The current values of an event's input components, as the page would send them untouched."""
    config = httpx.get(f"{server}config", timeout=30).json()
    values = {c["id"]: c.get("props", {}).get("value") for c in config["components"]}
    dep = next(d for d in config["dependencies"] if d["id"] == index)
    return [values.get(i) for i in dep["inputs"]]


def page_run_index(server: str) -> tuple[int, list[str]]:
    """The index of the page's Run event (private, the one that takes the page's own photo control) and its
    inputs' element ids / labels."""
    config = httpx.get(f"{server}config", timeout=30).json()
    names = {
        c["id"]: c.get("props", {}).get("elem_id") or c.get("props", {}).get("label")
        for c in config["components"]
    }
    ids = {c["id"]: c.get("props", {}).get("elem_id") for c in config["components"]}
    runs = [d for d in config["dependencies"] if "content" in {ids.get(i) for i in d.get("inputs", [])}]
    dep = max(runs, key=lambda d: len(d.get("inputs", [])))
    return dep["id"], [names.get(i) for i in dep["inputs"]]


def gallery_selects(config: dict) -> list[int]:
    """The ids of the example galleries' click events in a page's ``/config`` (the Photo and Video tabs'
    select events are not theirs)."""
    galleries = {c["id"] for c in config["components"] if c["type"] == "gallery"}
    return [
        d["id"]
        for d in config["dependencies"]
        if any(t[1] == "select" and t[0] in galleries for t in d.get("targets", []))
    ]


def worker_threads() -> list:
    """The run threads alive in this process (the package's worker and stream threads are named nst-*)."""
    import threading

    return [t for t in threading.enumerate() if t.name.startswith("nst-")]


def wait_until(condition, seconds: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True


def refusal(call, *args, **kwargs) -> str:
    """The message of the AppError a gradio_client call must end with; never Gradio's message-less one."""
    import pytest
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as err:
        call(*args, **kwargs)
    message = str(err.value)
    assert message and GENERIC not in message and "Traceback" not in message, message
    return message


def hang_up_at_first_picture(server: str, api_name: str, values: dict) -> None:
    """Join the queue for ``api_name`` as the page does and leave once a picture is forming."""
    session = join_queue(server, fn_index(server, api_name), body_for(server, api_name, values))
    with httpx.stream(
        "GET", f"{server}gradio_api/queue/data", params={"session_hash": session}, timeout=60
    ) as s:
        for line in s.iter_lines():
            if '"process_generating"' in line:
                return
