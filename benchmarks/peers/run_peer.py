"""Run one peer style-transfer implementation at its own defaults, for side-by-side benchmarks.

Execute with the PEER's venv Python (made by setup.sh), not the project's:

    ~/.cache/nst-peers/neural-style/bin/python benchmarks/peers/run_peer.py --peer neural-style \
        --content IMG --style IMG --size 256 --steps 100 --out OUT.png --json OUT.json
    ~/.cache/nst-peers/pystiche/bin/python benchmarks/peers/run_peer.py --peer pystiche ...
    .../bin/python benchmarks/peers/run_peer.py --peer pystiche --check   # import check only

Both run on the CPU with --threads (default 2) torch threads, seed --seed (default 0), output
longest side = --size (the shorter side as neural-style-pt computes it: int(size/longest*side),
used for both peers so their outputs have the same shape), style image resized the same way.

neural-style (neural-style-pt 0.5.7, Python API: its module's main(), with sys.argv set; its
defaults are read from its own argparse parser and written to the JSON):
    model VGG-16 from our converted weights (convert.py), -pooling max, content relu4_2
    (content_weight 5e0), style relu1_1,relu2_1,relu3_1,relu4_1,relu5_1 (style_weight 1e2),
    tv_weight 1e-3, -init random (randn*0.001, after manual_seed(-seed)), -optimizer lbfgs
    (torch LBFGS, max_iter=num_iterations, no line search, history 100, tolerances -1, i.e.
    one loss evaluation per iteration), -style_scale 1, -normalize_weights off. Changed from
    its defaults only: -num_iterations (= --steps), -image_size (= --size), -gpu c, -seed,
    -model_file, -output_image, -disable_check (the file has no classifier; we check the
    features keys ourselves), -save_iter 0 (no intermediate PNGs; the final one is always
    written); on request -init image (--init) and -style_weight (--style-weight). Loading: its
    loadCaffemodel() is called once before the timed call and main() is handed that model (it
    deep-copies it, as it always does).

pystiche (pystiche 1.0.1; no CLI, Python API): the Gatys NST of its "NST with pystiche"
example (examples/beginner/example_nst_with_pystiche.py at v1.0.1) with the
optim.image_optimization defaults: encoder enc.vgg16_multi_layer_encoder() (the example uses
vgg19; pretrained, framework "torch", internal ImageNet-mean/std preprocessing), content
FeatureReconstructionLoss at relu4_2 weight 1e0, style MultiLayerEncodingLoss of GramLoss
(normalize=True) at relu1_1..relu5_1, layer weights "mean", score weight 1e3, no TV term,
input starts from the content image, optimizer default_image_optimizer = LBFGS(lr=1,
max_iter=1) stepped --steps times (one evaluation per step). Images read with its
read_image() (PIL bilinear) at the size above (the example uses an edge size of 500).
Like the example, it leaves the VGG parameters trainable (requires_grad=True), so every
backward also computes weight gradients; that is its cost as shipped and is kept.
With THESE weights its default start diverges: from the content image the loss is concave
along the first (steepest-descent) step, torch's L-BFGS (no line search) rejects that
curvature pair and falls back to a raw step of lr * gradient (~1e10 per pixel here), and the
image goes to inf/NaN by step 2 (the PNG comes out black; the JSON says finite: false).
--pystiche-start random uses the alternative its example documents (white noise,
torch.rand_like after manual_seed(--seed)), which converges.

Timing: `wall_s` is the peer's run from the call on, weights already loaded: reading and
resizing both images, building the losses, capturing the targets, the optimization, writing
the PNG. `load_s` (reported separately) is building the VGG and loading the converted
weights. `evaluations` counts loss+gradient evaluations and `last_loss` is the loss at the
last one (harness instrumentation only: a counter wrapped around the optimizer's closure /
forward hooks on the loss, no behaviour change); `finite` is false when the run diverged.

Compatibility shims (no peer file is edited):
  * pystiche reads torchvision.models.vgg.model_urls and torchvision.models.alexnet.model_urls
    at import; torchvision >= 0.13 removed them. They are restored, before import, from
    torchvision's own VGG*_Weights / AlexNet_Weights enums (the same URLs). Its VGG builder
    still passes `pretrained=False` to torchvision, which only warns (silenced here).
  * pystiche loads weights via torch.hub from $TORCH_HOME/hub/checkpoints; TORCH_HOME is set
    to <peers dir>/torch-home, where convert.py put our weights under torchvision's VGG16
    file name, so nothing is downloaded and ~/.cache/torch is never touched.
  * neural-style-pt parses sys.argv when its module is imported, so sys.argv is set to its
    own arguments before the import.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from measure import cpu_model  # noqa: E402

PACKAGES = {"neural-style": "neural-style==0.5.7", "pystiche": "pystiche==1.0.1"}
NS_STYLE_LAYERS = "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1"


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="Run a peer NST implementation (see module docstring).")
    ap.add_argument("--peer", required=True, choices=sorted(PACKAGES))
    ap.add_argument("--check", action="store_true", help="only import the peer (with shims) and exit")
    ap.add_argument("--content", type=Path)
    ap.add_argument("--style", type=Path)
    ap.add_argument("--size", type=int, default=256, help="output longest side (px)")
    ap.add_argument("--steps", type=int, default=100, help="L-BFGS iterations / steps")
    ap.add_argument("--out", type=Path, help="output PNG")
    ap.add_argument("--json", type=Path, help="output JSON with timings and settings")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--snapshot-every",
        type=int,
        default=0,
        help="keep the image every N steps with its time from the call (for time-to-picture); "
        "written after the timed run as OUT_<steps>.png and listed in the JSON",
    )
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--init",
        choices=["random", "image"],
        default="random",
        help="neural-style's -init: random (its default) or image (start from the photo, as a user "
        "who wants a picture in few steps runs it)",
    )
    ap.add_argument(
        "--style-weight",
        type=float,
        default=None,
        help="the peer's style weight (neural-style -style_weight, default 1e2; pystiche's style "
        "score weight, default 1e3); the content weight stays the peer's default",
    )
    ap.add_argument(
        "--pystiche-start",
        choices=["content", "random"],
        default="content",
        help="pystiche starting point: 'content' (its example's default) or 'random' "
        "(the alternative its example documents; see README: from 'content' its "
        "default L-BFGS diverges to NaN with these weights)",
    )
    ap.add_argument(
        "--weights",
        type=Path,
        default=None,
        help="source VGG16 safetensors (default $NST_VGG16_WEIGHTS or ../shared/weights/...)",
    )
    ap.add_argument(
        "--peers-dir", type=Path, default=None, help="default $NST_PEERS_DIR or ~/.cache/nst-peers"
    )
    args = ap.parse_args(argv)
    if not args.check:
        missing = [n for n in ("content", "style", "out") if getattr(args, n) is None]
        if missing:
            ap.error("missing " + ", ".join("--" + m for m in missing))
    return args


def _setup_process(args) -> None:
    """Thread limits and the private torch hub dir; must run before torch is imported."""
    n = str(args.threads)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = n
    os.environ["CUDA_VISIBLE_DEVICES"] = ""  # CPU only, whatever the machine has
    import convert  # noqa: E402  (sibling file; imports torch)

    peers_dir = args.peers_dir or convert.default_peers_dir()
    args.peers_dir = peers_dir
    os.environ["TORCH_HOME"] = str(convert.pystiche_torch_home(peers_dir))
    import torch

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(args.threads)
    except RuntimeError:
        pass
    torch.hub.set_dir(str(convert.pystiche_torch_home(peers_dir) / "hub"))


def output_hw(path: Path, size: int) -> tuple[int, int]:
    """(height, width) with longest side `size`, computed as neural-style-pt's preprocess() does."""
    from PIL import Image

    with Image.open(path) as im:
        w, h = im.size
    return tuple(int((float(size) / max(w, h)) * x) for x in (h, w))  # type: ignore[return-value]


class Snapshots:
    """The image every ``every`` steps with its wall and CPU time from the call, the copying time left out."""

    def __init__(self, every: int) -> None:
        self.every, self.kept, self.t0, self.cpu0, self.spent = every, [], 0.0, 0.0, 0.0

    def start(self) -> None:
        self.t0, self.cpu0, self.spent = time.perf_counter(), time.process_time(), 0.0

    def maybe(self, steps_done: int, image) -> None:
        if self.every and steps_done % self.every == 0:
            now, cpu = time.perf_counter(), time.process_time()
            self.kept.append(
                (steps_done, now - self.t0 - self.spent, cpu - self.cpu0 - self.spent, image.detach().clone())
            )
            self.spent += time.perf_counter() - now

    def write(self, out: Path, to_pil) -> list[dict]:
        written = []
        for steps_done, seconds, cpu_seconds, image in self.kept:
            path = out.with_name(f"{out.stem}_{steps_done}{out.suffix}")
            to_pil(image).save(path)
            written.append({"steps": steps_done, "s": seconds, "cpu_s": cpu_seconds, "path": str(path)})
        return written


# ---------------------------------------------------------------- neural-style-pt


def import_neural_style(ns_argv: list[str]):
    saved = sys.argv
    sys.argv = ["neural-style"] + ns_argv  # its module parses sys.argv at import
    try:
        import neural_style.neural_style as ns
    finally:
        sys.argv = saved
    return ns


def run_neural_style(args) -> dict:
    import convert
    import torch

    model = convert.ensure("neural-style", args.weights, args.peers_dir)
    ns_argv = [
        "-content_image",
        str(args.content),
        "-style_image",
        str(args.style),
        "-image_size",
        str(args.size),
        "-num_iterations",
        str(args.steps),
        "-gpu",
        "c",
        "-seed",
        str(args.seed),
        "-model_file",
        str(model),
        "-disable_check",
        "-output_image",
        str(args.out),
        "-save_iter",
        "0",
        "-init",
        args.init,
        *(["-style_weight", repr(args.style_weight)] if args.style_weight is not None else []),
    ]
    ns = import_neural_style(ns_argv)
    defaults = {a.dest: a.default for a in ns.parser._actions if a.dest != "help"}
    p = ns.params

    # Load the model once, outside the timed call.
    t0 = time.perf_counter()
    cnn, layer_list = ns.loadCaffemodel(p.model_file, p.pooling, p.gpu, p.disable_check)
    load_s = time.perf_counter() - t0
    # -disable_check loads with strict=False: make sure every conv weight came from the file.
    sd = torch.load(str(model), map_location="cpu")
    want = {f"features.{k}" for k in cnn.state_dict()}
    if set(sd) != want or not torch.equal(cnn[0].weight, sd["features.0.weight"]):
        raise RuntimeError(f"{model}: features keys do not match neural-style's VGG-16")
    del sd
    ns.loadCaffemodel = lambda *a, **k: (cnn, layer_list)

    # Instrumentation: count closure evaluations (no behaviour change).
    counter = {"n": 0, "loss": None}
    snapshots = Snapshots(args.snapshot_every)

    class CountingLBFGS(torch.optim.LBFGS):
        def step(self, closure):
            def counted():
                snapshots.maybe(counter["n"], self.param_groups[0]["params"][0])
                counter["n"] += 1
                loss = closure()
                counter["loss"] = float(loss)
                return loss

            return super().step(counted)

    class _Optim:
        LBFGS = CountingLBFGS
        Adam = torch.optim.Adam

    ns.optim = _Optim

    args.out.parent.mkdir(parents=True, exist_ok=True)
    t0, cpu0 = time.perf_counter(), time.process_time()
    snapshots.start()
    ns.main()
    wall_s, cpu_s = time.perf_counter() - t0, time.process_time() - cpu0

    used = {k: getattr(p, k) for k in defaults}
    overrides = {k: v for k, v in used.items() if v != defaults[k]}
    return {
        "load_s": load_s,
        "wall_s": wall_s,
        "cpu_s": cpu_s,
        "evaluations": counter["n"],
        "last_loss": counter["loss"],
        "finite": counter["loss"] is not None and math.isfinite(counter["loss"]),
        "model_file": str(model),
        "settings": used,
        "peer_defaults": defaults,
        "changed_from_defaults": overrides,
        "api": "neural_style.neural_style.main() with sys.argv (module API; same code as its CLI)",
        "snapshots": snapshots.write(args.out, ns.deprocess),
    }


# ---------------------------------------------------------------- pystiche


def pystiche_compat() -> None:
    """Restore torchvision's removed model_urls dicts that pystiche 1.0.1 reads at import."""
    import importlib
    import warnings

    import torchvision.models as tvm

    # Not `import torchvision.models.alexnet as m`: that binds the alexnet() FUNCTION, which
    # shadows the submodule as an attribute of torchvision.models.
    alexnet_mod = importlib.import_module("torchvision.models.alexnet")
    vgg_mod = importlib.import_module("torchvision.models.vgg")

    if not hasattr(vgg_mod, "model_urls"):
        archs = ["vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"]
        vgg_mod.model_urls = {a: getattr(tvm, f"{a.upper()}_Weights").IMAGENET1K_V1.url for a in archs}
    if not hasattr(alexnet_mod, "model_urls"):
        alexnet_mod.model_urls = {"alexnet": tvm.AlexNet_Weights.IMAGENET1K_V1.url}
    warnings.filterwarnings("ignore", message="The parameter 'pretrained' is deprecated")
    warnings.filterwarnings("ignore", message="Arguments other than a weight enum")


def import_pystiche():
    pystiche_compat()
    import pystiche

    return pystiche


PYSTICHE_DEFAULTS = {
    "source": "examples/beginner/example_nst_with_pystiche.py (v1.0.1) + pystiche.optim defaults",
    "multi_layer_encoder": "vgg19_multi_layer_encoder(pretrained=True, framework='torch')",
    "content_layer": "relu4_2",
    "content_loss": "FeatureReconstructionLoss",
    "content_weight": 1e0,
    "style_layers": ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"],
    "style_loss": "GramLoss(normalize=True) per layer, MultiLayerEncodingLoss(layer_weights='mean')",
    "style_weight": 1e3,
    "tv_weight": None,
    "starting_point": "content",
    "optimizer": "default_image_optimizer: LBFGS(lr=1.0, max_iter=1), one step() per num_steps",
    "num_steps": 500,
    "size": "500 (edge size, short edge) for content and style",
}


def _tensor_to_pil(image):
    from torchvision.transforms.functional import to_pil_image

    return to_pil_image(image.squeeze(0).clamp(0, 1))


def run_pystiche(args) -> dict:
    import convert
    import torch

    ckpt = convert.ensure("pystiche", args.weights, args.peers_dir)
    import_pystiche()
    from pystiche import enc, loss, optim
    from pystiche.image import read_image, write_image
    from pystiche.misc import get_input_image

    t0 = time.perf_counter()
    mle = enc.vgg16_multi_layer_encoder()  # pretrained=True, framework="torch"
    load_s = time.perf_counter() - t0
    sd = torch.load(str(ckpt), map_location="cpu")
    params = dict(mle.named_parameters())
    if not torch.equal(params["conv1_1.weight"], sd["features.0.weight"]) or not torch.equal(
        params["conv5_3.weight"], sd["features.28.weight"]
    ):
        raise RuntimeError(f"pystiche did not load {ckpt}")
    del sd, params

    content_layer = "relu4_2"
    content_weight = 1e0
    style_layers = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    style_weight = 1e3 if args.style_weight is None else args.style_weight
    device = torch.device("cpu")
    counter = {"n": 0, "loss": None}
    snapshots = Snapshots(args.snapshot_every)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    t0, cpu0 = time.perf_counter(), time.process_time()
    snapshots.start()
    content_image = read_image(str(args.content), size=output_hw(args.content, args.size), device=device)
    style_image = read_image(str(args.style), size=output_hw(args.style, args.size), device=device)
    content_loss = loss.FeatureReconstructionLoss(
        mle.extract_encoder(content_layer), score_weight=content_weight
    )

    def get_style_op(encoder, layer_weight):
        return loss.GramLoss(encoder, score_weight=layer_weight)

    style_loss = loss.MultiLayerEncodingLoss(mle, style_layers, get_style_op, score_weight=style_weight)
    perceptual_loss = loss.PerceptualLoss(content_loss, style_loss).to(device)

    def counted(module, inputs) -> None:
        snapshots.maybe(counter["n"], inputs[0])
        counter["n"] += 1

    perceptual_loss.register_forward_pre_hook(counted)
    perceptual_loss.register_forward_hook(lambda m, i, o: counter.__setitem__("loss", float(o)))
    perceptual_loss.set_content_image(content_image)
    perceptual_loss.set_style_image(style_image)
    input_image = get_input_image(args.pystiche_start, content_image=content_image)
    output_image = optim.image_optimization(input_image, perceptual_loss, num_steps=args.steps, quiet=True)
    write_image(output_image, str(args.out))
    wall_s, cpu_s = time.perf_counter() - t0, time.process_time() - cpu0
    finite = bool(torch.isfinite(output_image).all())

    settings = {
        "multi_layer_encoder": "vgg16_multi_layer_encoder(pretrained=True, framework='torch')",
        "content_layer": content_layer,
        "content_loss": "FeatureReconstructionLoss",
        "content_weight": content_weight,
        "style_layers": list(style_layers),
        "style_loss": PYSTICHE_DEFAULTS["style_loss"],
        "style_weight": style_weight,
        "tv_weight": None,
        "starting_point": args.pystiche_start,
        "optimizer": PYSTICHE_DEFAULTS["optimizer"],
        "num_steps": args.steps,
        "size": f"longest side {args.size} for content and style (read_image, bilinear)",
        "quiet": True,
    }
    return {
        "load_s": load_s,
        "wall_s": wall_s,
        "cpu_s": cpu_s,
        "evaluations": counter["n"],
        "last_loss": counter["loss"],
        "finite": finite,
        "model_file": str(ckpt),
        "settings": settings,
        "peer_defaults": PYSTICHE_DEFAULTS,
        "changed_from_defaults": {
            "multi_layer_encoder": "vgg16 (example: vgg19)",
            "num_steps": args.steps,
            "size": settings["size"],
            "quiet": True,
            **({"starting_point": args.pystiche_start} if args.pystiche_start != "content" else {}),
            **({"style_weight": style_weight} if args.style_weight is not None else {}),
        },
        "api": "pystiche.loss / pystiche.optim.image_optimization (Python API; it has no CLI)",
        "snapshots": snapshots.write(args.out, _tensor_to_pil),
    }


# ---------------------------------------------------------------- main


def main(argv=None) -> int:
    args = parse_args(argv)
    _setup_process(args)
    import torch
    import torchvision

    if args.check:
        if args.peer == "neural-style":
            mod = import_neural_style([])
        else:
            mod = import_pystiche()
        print(
            f"{args.peer}: import ok ({mod.__name__} from {Path(mod.__file__).parent}); "
            f"torch {torch.__version__}, torchvision {torchvision.__version__}"
        )
        return 0

    torch.manual_seed(args.seed)
    result = run_neural_style(args) if args.peer == "neural-style" else run_pystiche(args)

    from PIL import Image

    with Image.open(args.out) as im:
        out_w, out_h = im.size
    side = Path(result["model_file"] + ".source.json")
    record = {
        "peer": args.peer,
        "package": PACKAGES[args.peer],
        "content": str(args.content),
        "style": str(args.style),
        "size": args.size,
        "steps": args.steps,
        "seed": args.seed,
        "output": str(args.out),
        "output_wh": [out_w, out_h],
        "device": "cpu",
        "threads": torch.get_num_threads(),
        "cpu": cpu_model(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "python": sys.executable,
        **result,
        "weights_source": json.loads(side.read_text()) if side.exists() else None,
        "timing": "wall_s: from the peer call to the written PNG (image reading/resizing, targets, "
        "optimization, saving), weights already loaded; cpu_s: the process's CPU time over the same "
        "span; load_s: building the VGG and "
        "loading the converted weights",
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(record, indent=2, default=str) + "\n")
    if not record["finite"]:
        print(
            f"WARNING: {args.peer} diverged (last loss {record['last_loss']}); the output "
            "image is not meaningful",
            file=sys.stderr,
        )
    print(
        f"{args.peer}: {args.steps} steps at {out_w}x{out_h}: wall {record['wall_s']:.2f} s "
        f"(load {record['load_s']:.2f} s, {record['evaluations']} evaluations) -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
