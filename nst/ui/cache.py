"""The one folder a server writes to, and the deletion of everything in it once it is old enough.

Uploads, images decoded from ``data:`` URLs, previews, results and PNG downloads all land in
this folder (Gradio's ``GRADIO_TEMP_DIR`` points at it), so deleting by age here covers every
file the app writes, whoever wrote it and whether or not Gradio tracked it. Gradio's own
``delete_cache`` is not used: it only deletes files it tracked, and its task died under a
burst of uploads (``Set changed size during iteration``) and never ran again.

A file's age counts from its last use, not from its upload: the upload gate touches every file it
lets through (:mod:`nst.ui.uploads`), and a file a run is reading is held (:meth:`CacheFolder.holding`)
and never deleted while held, so a run waiting behind a long one still finds its pictures, and a
person who presses Run again with the same photo an hour later still has it.

The folder belongs to one server at a time: a lock held for the server's life keeps a second
server from sweeping the first one's files, a marker file says the folder is the app's (a folder
with other files in it is never used, so a mistyped ``NST_CACHE_DIR`` cannot wipe anything), and
what an earlier process left behind is deleted when the next one opens the folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from PIL import Image

from ..errors import SettingsError

log = logging.getLogger(__name__)

MARKER = ".nst-cache"
#: The subfolder of the runs' stop signals (:class:`nst.ui.runner.StopSignal`): the server's, never an upload.
STOPS = "stops"


class CacheFolder:
    """A locked folder whose files are deleted ``max_age`` seconds after they were last used."""

    def __init__(self, path: Path, max_age: float, lock: int) -> None:
        self.path, self.max_age, self._lock = path, max_age, lock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._held: Counter[str] = Counter()
        self._held_lock = threading.Lock()

    @staticmethod
    def touch(path: str | os.PathLike) -> None:
        """Mark a file as just used: its age starts again."""
        try:
            os.utime(path)
        except OSError:
            pass  # gone, or not ours: nothing to keep

    def picture(self, image: Image.Image, name: str = "picture") -> str:
        """``image`` as a PNG file of its own in this folder, to hand to Gradio. Given a PIL image, Gradio
        writes it to a path made of its content's hash, in place: two identical pictures at once (two people
        running the same example, deterministic as the engine is) rewrote the file one of them was being
        served, whose download broke off. A file is copied into Gradio's cache atomically instead."""
        path = self.new_file(name, ".png")
        image.save(path, format="PNG")
        return path

    def new_file(self, name: str, suffix: str) -> str:
        """A fresh path in this folder for a result the package writes itself (a video, as it is made)."""
        folder = self.path / "results"
        folder.mkdir(exist_ok=True)
        return str(folder / f"nst-{name}-{uuid.uuid4().hex[:12]}{suffix}")

    @contextlib.contextmanager
    def holding(self, paths: Iterable[str]) -> Iterator[None]:
        """Keep ``paths`` while the block runs (a run reading them); when it ends, their age starts again.
        Only files in this folder count: a path a client wrote into a text field is neither kept nor touched."""
        real = [r for r in map(os.path.realpath, paths) if Path(r).is_relative_to(self.path)]
        with self._held_lock:
            self._held.update(real)
        try:
            yield
        finally:
            with self._held_lock:
                self._held.subtract(real)
                self._held += Counter()  # drop the zeros
            for path in real:
                self.touch(path)

    @classmethod
    def open(cls, path: str | os.PathLike, max_age: float) -> CacheFolder:
        """Take the folder (creating it), or refuse it with what to do; leftovers are deleted."""
        folder = Path(path).expanduser().resolve()
        folder.mkdir(parents=True, exist_ok=True)
        marker = folder / MARKER
        if not marker.exists() and any(folder.iterdir()):
            raise SettingsError(
                f"NST_CACHE_DIR: '{folder}' already holds files this app did not write; the app "
                "deletes everything in its cache folder, so give it an empty or new folder"
            )
        lock = os.open(marker, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock)
            raise SettingsError(
                f"NST_CACHE_DIR: '{folder}' is in use by another running server; give each server "
                "its own folder"
            ) from None
        cache = cls(folder, max_age, lock)
        removed = cache.clear()
        if removed:
            log.info("deleted %d file(s) an earlier server left in %s", removed, folder)
        return cache

    @classmethod
    def open_default(cls, base: Path, max_age: float, tries: int = 8) -> CacheFolder:
        """``base``, or ``base-2``, ``base-3``... when another server on this machine holds it."""
        for k in range(1, tries + 1):
            try:
                return cls.open(base if k == 1 else base.with_name(f"{base.name}-{k}"), max_age)
            except SettingsError:
                if k == tries:
                    raise
        raise AssertionError("unreachable")

    def _entries(self) -> Iterable[Path]:
        for root, _, files in os.walk(self.path):
            for name in files:
                if root == str(self.path) and name == MARKER:
                    continue
                yield Path(root) / name

    def sweep(self, keep: Iterable[str] = ()) -> int:
        """Delete every file unused for ``max_age`` (except ``keep`` and the held ones) and the folders left
        empty. A file's last use is its inode's change time: written, copied, or touched since."""
        with self._held_lock:
            keep = {os.path.realpath(k) for k in keep} | set(self._held)
        cutoff = time.time() - self.max_age
        removed, emptied = 0, set()
        for path in list(self._entries()):
            try:
                if path.lstat().st_ctime < cutoff and os.path.realpath(path) not in keep:
                    path.unlink()
                    removed += 1
                    emptied.add(str(path.parent))
            except FileNotFoundError:
                continue
            except OSError as exc:
                log.warning("could not delete %s: %s", path, exc)
        self._prune(cutoff, emptied)
        return removed

    def clear(self) -> int:
        """Delete everything in the folder but its marker."""
        removed = 0
        for child in self.path.iterdir():
            if child.name == MARKER:
                continue
            removed += sum(1 for _ in child.rglob("*") if _.is_file()) if child.is_dir() else 1
            try:
                shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
            except FileNotFoundError:
                pass
        return removed

    def _prune(self, cutoff: float, emptied: set[str]) -> None:
        """Remove the folders left empty: those this sweep emptied, and those unchanged since ``cutoff``. A
        folder Gradio has just made for the file it is about to write is left alone (removed under it, the
        write failed and the person saw an error)."""
        for root, dirs, files in os.walk(self.path, topdown=False):
            if root == str(self.path) or dirs or files:
                continue
            try:
                if root in emptied or os.stat(root).st_ctime < cutoff:
                    os.rmdir(root)
                    emptied.add(os.path.dirname(root))
            except OSError:
                pass  # a file arrived meanwhile

    def start(self, keep: Callable[[], Iterable[str]] = lambda: ()) -> None:
        """Sweep in a background thread every ``min(max_age / 2, 60)`` seconds (at least every second)."""
        if self.max_age <= 0 or self._thread is not None:
            return
        every = max(1.0, min(self.max_age / 2, 60.0))

        def run() -> None:
            while not self._stop.wait(every):
                try:
                    self.sweep(keep())
                except Exception:  # a sweep must never end the sweeping
                    log.exception("sweeping %s failed", self.path)

        self._stop.clear()
        self._thread = threading.Thread(target=run, name="cache-sweeper", daemon=True)
        self._thread.start()

    def stop(self, clear: bool = True) -> None:
        """End the sweeping; with ``clear``, delete everything (the server is going away)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if clear:
            self.clear()
