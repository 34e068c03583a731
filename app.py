"""The nst studio: the page's layout and its wiring. The machinery lives in :mod:`nst.ui`.

Run ``python app.py`` (local, prints the URL), ``python app.py --share`` (also a public link) or
``python app.py --host 0.0.0.0 --port 7860``. On a Hugging Face Space the same file runs unchanged;
on ZeroGPU hardware every run asks for a GPU, elsewhere that does nothing. The server's settings
come from its environment (``NST_*``, see README, "The app").

Every control's ``elem_id`` is its one name, the same as the dial, the setting or the API
parameter it feeds; the Run button hands them over as one set.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

import gradio as gr
import spaces  # noqa: F401, I001  first: on ZeroGPU it must be imported before anything initialises CUDA

from nst.catalogue import get_entry
from nst.dials import DIALS
from nst.methods import METHODS
from nst.settings import INITS, MAX_STYLES, OPTIMIZERS, STYLE_LOSSES, Settings
from nst.ui import api
from nst.ui.components import upload_files, upload_image
from nst.ui.jobs import painters
from nst.ui.page import COLOURS, Page, describe, example_gallery, visible
from nst.ui.run import Runner
from nst.ui.server import ServerConfig, launch, stop_on_sigterm
from nst.ui.uploads import UploadGate
from nst.vgg import BACKBONES, POOLINGS

HERE = Path(__file__).resolve().parent
TITLE = "nst: neural style transfer studio"
CONFIG = ServerConfig.from_env()
#: The one folder the server writes to (uploads, results, PNGs), swept by age (NST_CACHE_SECONDS).
CACHE = CONFIG.open_cache()
RUNNER = Runner(CONFIG.device, CONFIG.concurrency)
#: All runs share one queue slot group: one GPU (or CPU) does one picture at a time by default.
COMPUTE = "compute"
#: The built-in example pictures, then the operator's (NST_EXAMPLES_DIR).
EXAMPLE_FOLDERS = [HERE / "examples"] + ([CONFIG.examples_dir] if CONFIG.examples_dir else [])
CSS = """
#output img, #compare img { object-fit: contain; }
.nst-note { font-size: 0.9em; opacity: 0.8; }
"""


def build_demo() -> gr.Blocks:
    """The page and its API; nothing heavy happens here (models load on the first run)."""
    gate = UploadGate(CACHE.path, CONFIG.max_bytes)
    page = Page(RUNNER, CONFIG, CACHE.path / "results")
    start, defaults = CONFIG.defaults, Settings()
    offered = painters()
    methods = [(m.label, m.name) for m in METHODS.values() if m.kind != "cyclegan" or offered]
    first = visible("gatys")
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(
            f"# {TITLE}\nUpload a photo, pick or upload a style, choose a method and press **Run**. The "
            f"picture forms as you watch; stop it whenever you like. Running on "
            f"**{CONFIG.device_type.upper()}**."
        )
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                method = gr.Dropdown(methods, value="gatys", label="Method", elem_id="method")
                about = gr.Markdown(describe("gatys"), elem_classes=["nst-note"])
                with gr.Row():
                    with gr.Column(min_width=160) as content_inputs:
                        content = gate.register(
                            upload_image(
                                label="Photo",
                                elem_id="content",
                                sources=["upload", "webcam", "clipboard"],
                                height=220,
                                webcam_options=gr.WebcamOptions(mirror=False),
                            ),
                            "content image",
                        )
                        example_gallery(content, EXAMPLE_FOLDERS, "content", "Example photos")
                    with gr.Column(min_width=160) as style_inputs:
                        style = gate.register(
                            upload_image(
                                "style",
                                label="Style",
                                elem_id="style",
                                sources=["upload", "clipboard"],
                                height=220,
                            ),
                            "style image",
                        )
                        example_gallery(style, EXAMPLE_FOLDERS, "styles", "Example styles")
                    with gr.Column(visible=False) as painter_controls:
                        painter = gr.Dropdown(
                            [(get_entry(p).display_name, p) for p in offered],
                            label="Painter",
                            value=offered[0] if offered else None,
                            elem_id="painter",
                        )
                        strength = gr.Slider(
                            0,
                            1,
                            1.0,
                            step=0.05,
                            label="Strength",
                            elem_id="strength",
                            info="0 = the photo, 1 = the full painting",
                        )
                        brush_scale = gr.Slider(
                            1,
                            4,
                            1.0,
                            step=0.25,
                            label="Brush scale",
                            elem_id="brush_scale",
                            info="bigger = coarser strokes (and faster)",
                        )
                        max_size = gr.Slider(
                            64,
                            CONFIG.max_size,
                            CONFIG.max_size,
                            step=32,
                            elem_id="max_size",
                            label="Largest side (px): bigger photos are shrunk first",
                        )
                with gr.Row():
                    run = gr.Button("Run", variant="primary", elem_id="run")
                    stop = gr.Button("Stop", variant="secondary", elem_id="stop", interactive=False)
                status = gr.Markdown("", elem_id="status")
                with gr.Group():
                    dials = {
                        d.name: gr.Slider(
                            0,
                            10,
                            d.default,
                            step=0.5,
                            label=d.label,
                            info=d.info,
                            elem_id=d.name,
                            visible=first[d.name],
                        )
                        for d in DIALS.values()
                    }
                    with gr.Column() as colour_controls:
                        preserve_color = gr.Radio(
                            COLOURS, value="none", label="Colours", elem_id="preserve_color"
                        )
                    with gr.Column(visible=False) as style_loss_controls:
                        style_loss = gr.Radio(
                            list(STYLE_LOSSES),
                            value=defaults.style_loss,
                            label="Statistic",
                            elem_id="style_loss",
                            info="gram: Gatys; bn: mean and spread of each feature; mmd-*: kernel MMD",
                        )
                    with gr.Column() as size_controls:
                        size = gr.Slider(
                            64,
                            CONFIG.max_size,
                            start.size,
                            step=32,
                            elem_id="size",
                            label="Output size (longest side, px)",
                        )
                    with gr.Row(visible=False) as texture_controls:
                        width = gr.Slider(
                            16, CONFIG.max_size, start.size, step=16, label="Width (px)", elem_id="width"
                        )
                        height = gr.Slider(
                            16, CONFIG.max_size, start.size, step=16, label="Height (px)", elem_id="height"
                        )
                    with gr.Column() as steps_controls:
                        steps = gr.Slider(
                            10,
                            CONFIG.max_steps,
                            start.steps,
                            step=10,
                            label="Steps",
                            elem_id="steps",
                            info="more steps: a more finished picture, more time",
                        )
                with gr.Accordion("Advanced", open=False) as advanced:
                    with gr.Row():
                        backbone = gr.Dropdown(
                            list(BACKBONES),
                            value=CONFIG.backbone,
                            label="Backbone",
                            elem_id="backbone",
                            info="feature network",
                        )
                        pooling = gr.Radio(
                            list(POOLINGS), value=defaults.pooling, label="Pooling", elem_id="pooling"
                        )
                        optimizer = gr.Radio(
                            list(OPTIMIZERS), value=defaults.optimizer, label="Optimizer", elem_id="optimizer"
                        )
                    style_layers = gr.Textbox(
                        ",".join(defaults.style_layers), label="Style layers", elem_id="style_layers"
                    )
                    style_layer_weights = gr.Textbox(
                        "",
                        label="Style layer weights",
                        elem_id="style_layer_weights",
                        placeholder="equal; or one number per style layer, e.g. 1,1,1,0.5,0.5",
                    )
                    with gr.Row():
                        seed = gr.Number(defaults.seed, precision=0, label="Seed", elem_id="seed")
                        scales = gr.Slider(
                            1, 4, start.scales, step=1, label="Coarse-to-fine scales", elem_id="scales"
                        )
                        style_scale = gr.Slider(
                            0.25,
                            2,
                            defaults.style_scale,
                            step=0.05,
                            label="Style scale",
                            elem_id="style_scale",
                            info="size of the painting's features",
                        )
                    extra_styles = gate.register(
                        upload_files(
                            label=f"More style images (up to {MAX_STYLES - 1})", elem_id="extra_styles"
                        ),
                        "extra style image",
                        MAX_STYLES - 1,
                    )
                    style_blend = gr.Textbox(
                        "",
                        label="Style weights",
                        elem_id="style_blend",
                        placeholder="one per style, first the main style, e.g. 1, 0.5",
                    )
                    with gr.Column() as content_advanced:
                        content_layers = gr.Textbox(
                            ",".join(defaults.content_layers),
                            label="Content layers",
                            elem_id="content_layers",
                        )
                        init = gr.Radio(list(INITS), value=defaults.init, label="Start from", elem_id="init")
                        masks = gate.register(
                            upload_files(
                                label="Masks (one per style: white = this style goes here)", elem_id="masks"
                            ),
                            "mask",
                            MAX_STYLES,
                        )
            with gr.Column(scale=4):
                output = gr.Image(
                    label="Result",
                    type="pil",
                    format="png",
                    elem_id="output",
                    interactive=False,
                    height=420,
                    buttons=["download", "share", "fullscreen"],
                )
                losses = gr.LinePlot(
                    x="step",
                    y="loss",
                    color="term",
                    label="Loss",
                    x_title="step",
                    y_title="log10 loss",
                    x_axis_format="d",
                    elem_id="losses",
                )
                compare = gr.ImageSlider(
                    label="Before / after", type="pil", format="png", elem_id="compare", interactive=False
                )
                download = gr.File(label="PNG", elem_id="download", interactive=False)

        shown = {
            "content_inputs": content_inputs,
            "style_inputs": style_inputs,
            "painter_controls": painter_controls,
            "size_controls": size_controls,
            "texture_controls": texture_controls,
            "steps_controls": steps_controls,
            "colour_controls": colour_controls,
            "style_loss_controls": style_loss_controls,
            "losses": losses,
            "advanced": advanced,
            "content_advanced": content_advanced,
            **dials,
        }
        method.change(
            lambda name: (
                [describe(name)]
                + [gr.update(value=METHODS[name].default(setting)) for setting in ("style_loss", "init")]
                + [gr.update(visible=visible(name)[k]) for k in shown]
            ),
            method,
            [about, style_loss, init, *shown.values()],
            queue=False,
            api_visibility="private",
        )
        controls = {
            method,
            content,
            style,
            painter,
            strength,
            brush_scale,
            max_size,
            *dials.values(),
            preserve_color,
            style_loss,
            size,
            width,
            height,
            steps,
            backbone,
            pooling,
            optimizer,
            style_layers,
            style_layer_weights,
            seed,
            scales,
            style_scale,
            extra_styles,
            style_blend,
            content_layers,
            init,
            masks,
        }
        running = run.click(
            page.run,
            controls,
            [output, losses, compare, download, status, stop],
            api_visibility="private",
            concurrency_id=COMPUTE,
            concurrency_limit=CONFIG.concurrency,
            show_progress="minimal",
        )
        running.then(lambda: gr.update(interactive=False), None, stop, queue=False, api_visibility="private")
        stop.click(page.stop, None, status, queue=False, api_visibility="private")
        api.add_endpoints(RUNNER, CONFIG, gate, COMPUTE)
    demo.queue(default_concurrency_limit=CONFIG.concurrency, max_size=CONFIG.queue_size)
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
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        max_file_size=CONFIG.max_file_size,
        css=CSS,
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
