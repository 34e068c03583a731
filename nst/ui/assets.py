"""The page's style and scripts: Gradio 6 takes them at launch, not in ``gr.Blocks``, so app.py and the
tests' servers pass :data:`PAGE_ASSETS` to :func:`nst.ui.server.launch` alike."""

from __future__ import annotations

import json

from .lifecycle import VIDEO_READY, State

#: Scrolls the result into view when a run starts and it is out of sight (a phone, where it sits under the
#: controls), and a finished video (above the picture) when it is ready. It follows the status line's first
#: sentence of a run: a script on Run's click itself waited for the run to end.
STARTED = State("preparing", what="pictures").sentence().split(" · ")[0]
SHOW_RESULT = """(status) => {
  const video = !!status && status.includes(VIDEO_READY);
  if (!status || !(status.startsWith(STARTED) || video)) return;
  const show = () => {
    const result = document.getElementById(video ? "video-result" : "output");
    const box = result && result.getBoundingClientRect();
    if (box && (box.top < 0 || box.top > window.innerHeight * 0.5)) result.scrollIntoView({behavior: "smooth"});
  };
  // the video is made visible by the same update as the status line: look once it is laid out
  if (video) setTimeout(show, 500); else show();
}""".replace("STARTED", json.dumps(STARTED)).replace("VIDEO_READY", json.dumps(VIDEO_READY))
#: ``/?view=api`` opens the API page, as a link to a Space's API is written (Gradio's footer button does it).
OPEN_API_PAGE = """() => {
  // Gradio drops ?view=api from the address before this runs: the URL the page was asked for still has it.
  const asked = new URL(performance.getEntriesByType("navigation")[0]?.name || location.href);
  if (asked.searchParams.get("view") !== "api") return;
  const open = (tries) => {
    const button = [...document.querySelectorAll("footer button")].find(b => b.textContent.includes("API"));
    const shown = document.querySelector(".api-docs, .api-docs-wrap");
    if (shown || tries <= 0) return;
    if (button && document.querySelector("#run")) button.click();
    setTimeout(() => open(tries - 1), 500);
  };
  open(20);
}"""
CSS = """
#output img, #compare img { object-fit: contain; }
#compare { min-height: 240px; }
.nst-note { font-size: 0.9em; opacity: 0.8; }
"""

#: What launch takes: the page's style and its script.
PAGE_ASSETS = {"css": CSS, "js": OPEN_API_PAGE}
