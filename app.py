"""The nst studio: the page's layout and its wiring. The machinery lives in :mod:`nst.ui`.

Run ``python app.py`` (local, prints the URL), ``python app.py --share`` (also a public link) or
``python app.py --host 0.0.0.0 --port 7860``. On a Hugging Face Space the same file runs unchanged;
on ZeroGPU hardware every run asks for a GPU, elsewhere that does nothing. The server's settings
come from its environment (``NST_*``, see README, "The app").

The controls are the rows of one table (:data:`nst.ui.controls.CONTROLS`), laid out here by group;
each is named like the dial, setting or input it sets, and the Run button hands them over as one
set, read by those names.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import gradio as gr
import spaces  # noqa: F401, I001  first: on ZeroGPU it must be imported before anything initialises CUDA

from nst import readiness
from nst.methods import METHODS
from nst.ui import api
from nst.ui.assets import PAGE_ASSETS, SHOW_RESULT
from nst.ui.cache import STOPS
from nst.ui.controls import GROUPS, TOGGLED, Context, in_group, shown
from nst.ui.page import Page, banner, change_method, checked_upload, example_gallery, medium_tabs
from nst.ui.runner import Runner
from nst.ui.server import ServerConfig, launch, stop_on_sigterm
from nst.ui.uploads import UploadGate

logging.basicConfig(format="%(asctime)s %(name)s %(levelname)s: %(message)s")
logging.getLogger("nst").setLevel(logging.INFO)
log = logging.getLogger("nst.server")

HERE = Path(__file__).resolve().parent
TITLE = "nst: neural style transfer studio"
CONFIG = ServerConfig.from_env()
#: The one folder the server writes to (uploads, results, PNGs), swept by age (NST_CACHE_SECONDS).
CACHE = CONFIG.open_cache()
RUNNER = Runner(CONFIG.device, CACHE.path / STOPS, CONFIG.concurrency, CONFIG.queue_size)
#: The built-in example pictures, then the operator's (NST_EXAMPLES_DIR).
EXAMPLE_FOLDERS = [HERE / "examples"] + ([CONFIG.examples_dir] if CONFIG.examples_dir else [])


def build_demo() -> gr.Blocks:
    """The page and its API; nothing heavy happens here (models load on the first run, or at start-up
    when their weights are on disk). What can run here is logged, and shown in the banner."""
    gate = UploadGate(CACHE.path, CONFIG.max_bytes)
    networks, painters = readiness.networks(), readiness.painters()
    for model, line in zip(networks + painters, readiness.report(networks + painters)):
        log.log(logging.INFO if model.runnable else logging.WARNING, line)
    context = Context(CONFIG, painters, gate)
    first = METHODS["gatys"]
    show = shown(first)
    widgets: dict[str, gr.components.Component] = {}

    def place(group: str) -> None:
        for control in in_group(group):
            widgets[control.name] = control.make(context, show.get(control.name, True))

    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(
            f"# {TITLE}\nUpload a photo, pick or upload a style, choose a method and press **Run**. The "
            f"picture forms as you watch; stop it whenever you like. Running on "
            f"**{CONFIG.device_type.upper()}**."
        )
        gr.Markdown(banner(networks, painters), elem_id="banner", elem_classes=["nst-note"])
        # Phone first: a narrow screen stacks the columns: the photo or video, the style or painter, the method,
        # Run, the examples, the result (video, picture, before/after, download), the dials. A desktop: side by side.
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                with gr.Row():
                    with gr.Column(min_width=120, visible=show["content"]) as content_group:
                        medium_tabs(place, widgets, EXAMPLE_FOLDERS)  # the photo, or the video
                    with gr.Column(min_width=120, visible=show["style"]) as style_group:
                        place("style")
                    with gr.Column(visible=show["painter"]) as painter_group:
                        place("painter")
                place("method")
                with gr.Row():
                    run = gr.Button("Run", variant="primary", elem_id="run")
                    stop = gr.Button("Stop", variant="secondary", elem_id="stop", interactive=False)
                status = gr.Markdown("", elem_id="status")
                about = gr.Markdown(first.description, elem_classes=["nst-note"])
                with gr.Row(elem_id="examples"):
                    with gr.Column(min_width=120, visible=show["content"]) as content_examples:
                        example_gallery(widgets["content"], EXAMPLE_FOLDERS, "content", "Example photos")
                    with gr.Column(min_width=120, visible=show["style"]) as style_examples:
                        example_gallery(widgets["style"], EXAMPLE_FOLDERS, "styles", "Example styles")
            with gr.Column(scale=4):
                video = gr.Video(label="Video", elem_id="video-result", interactive=False, visible=False)
                output = gr.Image(
                    label="Result",
                    type="pil",
                    format="png",
                    elem_id="output",
                    interactive=False,
                    height=420,
                    buttons=["download", "share", "fullscreen"],
                )
                compare = gr.ImageSlider(
                    label="Before / after",
                    type="pil",
                    format="png",
                    elem_id="compare",
                    interactive=False,
                    height=320,
                )
                download = gr.File(label="PNG", elem_id="download", interactive=False, visible=False)
                with gr.Accordion("Dials", open=False, visible=show["dials"], elem_id="dials") as dials_group:
                    place("dials")
                with gr.Accordion("Advanced", open=False, visible=show["advanced"]) as advanced_group:
                    place("advanced")
                losses = gr.LinePlot(
                    x="step",
                    y="loss",
                    color="term",
                    label="Loss of the best picture so far",
                    x_title="step",
                    y_title="log10 loss",
                    x_axis_format="d",
                    elem_id="losses",
                )

        groups = [content_group, style_group, painter_group, dials_group, advanced_group]
        assert len(groups) == len(GROUPS)
        page = Page(RUNNER, CONFIG, CACHE, widgets)
        widgets["method"].change(
            change_method,
            widgets["method"],
            [about, *(widgets[name] for name in TOGGLED), *groups, content_examples, style_examples, losses],
            queue=False,
            api_visibility="private",
        )
        for name, what in (("content", "content image"), ("style", "style image"), ("video", "video")):
            widgets[name].upload(checked_upload(what), widgets[name], status, api_visibility="private")
        running = run.click(
            page.run,
            set(widgets.values()),
            [output, losses, compare, download, status, stop, video],  # as Page.run streams them
            api_visibility="private",
            concurrency_limit=None,  # every run waits in the runner's line, which knows its place
            show_progress="minimal",
            show_progress_on=output,  # the status line says the state itself, in words
        )
        running.then(lambda: gr.update(interactive=False), None, stop, queue=False, api_visibility="private")
        status.change(None, status, None, js=SHOW_RESULT, api_visibility="private")
        stop.click(page.stop, None, stop, queue=False, api_visibility="private", api_name="page_stop")
        api.add_endpoints(RUNNER, CONFIG, gate, CACHE, painters)
    demo.queue(default_concurrency_limit=CONFIG.concurrency, max_size=CONFIG.queue_events)
    gate.install(demo)
    return demo


demo = build_demo()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the nst studio (Gradio).")
    parser.add_argument(
        "--host",
        default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        help="interface to listen on; 0.0.0.0 for all [127.0.0.1]",
    )
    parser.add_argument(
        "--port", type=int, default=None, help="port [GRADIO_SERVER_PORT, else the first free one from 7860]"
    )
    parser.add_argument("--share", action="store_true", help="also make a temporary public gradio.live link")
    args = parser.parse_args(argv)
    stop_on_sigterm()
    RUNNER.warm_up(CONFIG.backbone)
    _, local_url, share_url = launch(
        demo,
        CACHE,
        CONFIG,
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        **PAGE_ASSETS,
        quiet=True,
        prevent_thread_lock=True,
    )
    print(
        f"nst studio: {local_url}"
        + (
            f" and {share_url}"
            if share_url
            else " (for a temporary public link too, run: python app.py --share)"
        ),
        flush=True,
    )
    demo.block_thread()


if __name__ == "__main__":
    main()
