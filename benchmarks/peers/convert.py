"""Convert the project's VGG16 weights into the formats the two peer implementations load.

    python benchmarks/peers/convert.py [--peer neural-style|pystiche|all]
        [--weights FILE] [--peers-dir DIR] [--force] [--no-check]

Runs with any Python that has torch (a peer venv or the project's .venv); reads the
safetensors file with the `safetensors` package when present, else with the small reader
below (the format is an 8-byte length, a JSON header and raw little-endian tensors), so the
peer venvs need nothing beyond what the peers install. Nothing is written into the repo: the
outputs go under the peers dir (${NST_PEERS_DIR:-~/.cache/nst-peers}) and are made at run
time from the source file, never copied from shared/.

Source: ../shared/weights/vgg16-imagenet-features.safetensors (or $NST_VGG16_WEIGHTS /
--weights): the `features` part of torchvision's `vgg16()` (keys `features.N.weight/bias`;
bare `N.weight` is accepted too), whose first convolution expects torchvision's input
convention: RGB, values in [0, 1], normalized with ImageNet mean (0.485, 0.456, 0.406) and
std (0.229, 0.224, 0.225).

neural-style (neural-style-pt 0.5.7) -> <peers>/models/vgg16-00b39a1b.pth
    What it expects, from its source (neural_style.py, loader/CaffeLoader.py):
    * the file name: the model is chosen by substrings of the name ("vgg" + "16" -> VGG-16
      layout, vgg16_dict layer names conv1_1..relu5_3); vgg16-00b39a1b.pth is the name its
      -download_models step saves the Caffe VGG16 under, so we use that name.
    * key layout: torch.load() of an OrderedDict loaded into its VGG class, keys
      `features.N.weight/bias` with torchvision's indices (conv, ReLU, pool in the same order;
      buildSequential gives the same numbering) plus `classifier.{0,3,6}.*`. We have no
      classifier, so the file holds only the 13 conv layers and run_peer.py passes
      -disable_check (load_state_dict(strict=False)); run_peer.py then checks itself that
      every features key was in the file, so nothing is silently left random.
    * input convention (preprocess()): image p in [0,1] (ToTensor), times 256 (not 255 -
      its quirk), channels flipped to BGR, minus the Caffe mean pixel
      (103.939, 116.779, 123.68) in BGR order, std 1. deprocess() inverts exactly that.
    Conversion: only the first convolution changes. With x_c[j] the BGR value it feeds in and
    c = 2 - j the matching RGB channel, the pixel is p[c] = (x_c[j] + mean_bgr[j]) / 256, so
    the torchvision-normalized value the weights were trained on is
        t[c] = x_c[j] / (256 * std[c]) + (mean_bgr[j] / 256 - mean[c]) / std[c].
    Hence  W'[:, j] = W[:, c] / (256 * std[c])                          (flip + scale)
           b'       = b + sum_{c,kh,kw} W[:, c, kh, kw] * (mean_bgr[2-c]/256 - mean[c]) / std[c].
    The network then computes exactly what torchvision's does on the same picture, except
    in the one-pixel zero-padding ring of conv1_1: there a padded 0 in Caffe space stands for
    t = (mean_bgr/256 - mean)/std = (-0.0082, +0.0008, +0.0001) (R, G, B) instead of 0, i.e.
    under half a grey level; the check below measures the effect on the relu5_3 output.
    All other layers are copied unchanged.

pystiche (pystiche 1.0.1) -> <peers>/torch-home/hub/checkpoints/vgg16-397923af.pth
    What it expects: enc.vgg16_multi_layer_encoder() (pretrained=True, framework="torch")
    calls torch.hub.load_state_dict_from_url() on torchvision's VGG16 URL
    (.../vgg16-397923af.pth, = VGG16_Weights.IMAGENET1K_V1.url), which returns the file
    $TORCH_HOME/hub/checkpoints/<URL basename> if it exists (the hash in the name is only
    checked on download) and loads it with strict key matching after renaming
    `features.N.*` to `conv1_1.*` etc.; `classifier.*` keys are ignored, so a features-only
    file loads strictly. Its internal preprocessing is torchvision's (RGB [0,1], ImageNet
    mean/std), the same convention as our weights.
    Conversion: keys normalized to `features.N.*`, tensors unchanged. The file goes into a
    PRIVATE torch home under the peers dir (run_peer.py sets TORCH_HOME to it), never into
    ~/.cache/torch: a non-official file under the official name there would be picked up by
    any other program that asks torchvision for VGG16.

Each output gets a `<file>.source.json` sidecar (source path, size, mtime, sha256, converter
version); `ensure()` (used by run_peer.py) reconverts when it is missing or stale.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import struct
import sys
from collections import OrderedDict
from pathlib import Path

import torch
import torch.nn as nn

CONVERTER_VERSION = 1
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DEFAULT_WEIGHTS = REPO.parent / "shared" / "weights" / "vgg16-imagenet-features.safetensors"

# torchvision input convention of the source weights
TV_MEAN = (0.485, 0.456, 0.406)
TV_STD = (0.229, 0.224, 0.225)
# neural-style-pt preprocess(): x*256, RGB->BGR, minus this mean (BGR order), std 1
NS_SCALE = 256.0
NS_MEAN_BGR = (103.939, 116.779, 123.68)

NS_MODEL_NAME = "vgg16-00b39a1b.pth"
PYSTICHE_HUB_NAME = "vgg16-397923af.pth"  # basename of VGG16_Weights.IMAGENET1K_V1.url

VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
VGG16_CONV_IDX = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]


def default_peers_dir() -> Path:
    return Path(os.environ.get("NST_PEERS_DIR", Path.home() / ".cache" / "nst-peers")).expanduser()


def default_weights() -> Path:
    return Path(os.environ.get("NST_VGG16_WEIGHTS", DEFAULT_WEIGHTS)).expanduser()


def output_path(peer: str, peers_dir: Path) -> Path:
    if peer == "neural-style":
        return peers_dir / "models" / NS_MODEL_NAME
    if peer == "pystiche":
        return peers_dir / "torch-home" / "hub" / "checkpoints" / PYSTICHE_HUB_NAME
    raise ValueError(f"unknown peer {peer!r}")


def pystiche_torch_home(peers_dir: Path) -> Path:
    return peers_dir / "torch-home"


# ---------------------------------------------------------------- reading the source

_ST_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64}


def _read_safetensors_plain(path: Path) -> dict[str, torch.Tensor]:
    """Minimal safetensors reader (used when the `safetensors` package is not installed)."""
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    base = 8 + n
    out = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        start, end = info["data_offsets"]
        dtype = _ST_DTYPES[info["dtype"]]
        buf = bytearray(data[base + start : base + end])
        out[key] = torch.frombuffer(buf, dtype=dtype).reshape(info["shape"]).clone()
    return out


def load_source(path: Path) -> OrderedDict[str, torch.Tensor]:
    """The source state dict with keys normalized to `features.N.weight/bias`, float32."""
    try:
        from safetensors.torch import load_file
    except ImportError:
        sd = _read_safetensors_plain(path)
    else:
        sd = load_file(str(path))
    out: OrderedDict[str, torch.Tensor] = OrderedDict()
    for key, value in sd.items():
        k = key if key.startswith("features.") else f"features.{key}"
        out[k] = value.float().contiguous()
    want = {f"features.{i}.{p}" for i in VGG16_CONV_IDX for p in ("weight", "bias")}
    if set(out) != want:
        raise ValueError(
            f"{path}: not a VGG16 features state dict; missing {sorted(want - set(out))[:4]}, "
            f"unexpected {sorted(set(out) - want)[:4]}"
        )
    ordered = OrderedDict((k, out[k]) for k in sorted(out, key=lambda k: (int(k.split(".")[1]), k)))
    return ordered


# ---------------------------------------------------------------- conversions


def to_neural_style(sd: OrderedDict[str, torch.Tensor]) -> OrderedDict[str, torch.Tensor]:
    """Fold neural-style-pt's Caffe preprocessing (x256, BGR, minus mean) into conv1_1."""
    w = sd["features.0.weight"]  # (64, 3, 3, 3), input channels RGB, torchvision-normalized
    b = sd["features.0.bias"]
    mean = torch.tensor(TV_MEAN, dtype=torch.float64)
    std = torch.tensor(TV_STD, dtype=torch.float64)
    mean_rgb_ns = torch.tensor(NS_MEAN_BGR[::-1], dtype=torch.float64)  # Caffe mean in RGB order
    w64 = w.double()
    w_rgb = w64 / (NS_SCALE * std).view(1, 3, 1, 1)  # scale per RGB input channel
    w_new = w_rgb.flip(1)  # input channel j (BGR) <- RGB channel 2 - j
    offset = (mean_rgb_ns / NS_SCALE - mean) / std  # torchvision value of a Caffe-space 0, RGB
    b_new = b.double() + (w64.sum(dim=(2, 3)) * offset.view(1, 3)).sum(dim=1)
    out = OrderedDict(sd)
    out["features.0.weight"] = w_new.float().contiguous()
    out["features.0.bias"] = b_new.float().contiguous()
    return out


def to_pystiche(sd: OrderedDict[str, torch.Tensor]) -> OrderedDict[str, torch.Tensor]:
    """Same convention as torchvision: keys `features.N.*`, tensors unchanged."""
    return OrderedDict(sd)


# ---------------------------------------------------------------- checks


def _vgg16_features() -> nn.Sequential:
    layers: list[nn.Module] = []
    c_in = 3
    for v in VGG16_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c_in, v, 3, padding=1), nn.ReLU(inplace=True)]
            c_in = v
    return nn.Sequential(*layers)


def check_neural_style(src: dict, converted: dict, size: int = 96) -> dict:
    """Same picture through torchvision's convention + source weights and through
    neural-style-pt's preprocess() + converted weights; compare relu5_3 (whole map and
    interior, the border ring is where conv1_1's zero padding differs)."""
    g = torch.Generator().manual_seed(0)
    p = torch.rand(1, 3, size // 8, size // 8, generator=g)
    p = nn.functional.interpolate(p, size=(size, size), mode="bilinear", align_corners=False)
    ref_net, ns_net = _vgg16_features(), _vgg16_features()
    ref_net.load_state_dict({k[len("features.") :]: v for k, v in src.items()})
    ns_net.load_state_dict({k[len("features.") :]: v for k, v in converted.items()})
    mean = torch.tensor(TV_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(TV_STD).view(1, 3, 1, 1)
    x_tv = (p - mean) / std
    x_ns = (p * NS_SCALE)[:, [2, 1, 0]] - torch.tensor(NS_MEAN_BGR).view(1, 3, 1, 1)
    with torch.no_grad():
        a = ref_net[:30](x_tv)  # up to relu5_3
        b = ns_net[:30](x_ns)
        a1 = ref_net[:2](x_tv)  # relu1_1, interior only (exact there)
        b1 = ns_net[:2](x_ns)
    scale = a.abs().max().item()
    rel = (a - b).abs().max().item() / scale
    rel_interior = (a1 - b1)[..., 1:-1, 1:-1].abs().max().item() / a1.abs().max().item()
    return {"relu5_3_max_rel_diff": rel, "relu1_1_interior_max_rel_diff": rel_interior}


def check_pystiche(src: dict, converted: dict) -> dict:
    same = all(torch.equal(src[k], converted[k]) for k in src) and set(src) == set(converted)
    return {"identical_to_source": same}


# ---------------------------------------------------------------- driver


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _source_stamp(weights: Path) -> dict:
    st = weights.stat()
    return {"source": str(weights.resolve()), "size": st.st_size, "mtime": st.st_mtime}


def is_fresh(peer: str, weights: Path, peers_dir: Path) -> bool:
    out = output_path(peer, peers_dir)
    side = out.with_name(out.name + ".source.json")
    if not out.exists() or not side.exists():
        return False
    try:
        meta = json.loads(side.read_text())
    except (OSError, ValueError):
        return False
    stamp = _source_stamp(weights)
    return meta.get("converter_version") == CONVERTER_VERSION and all(
        meta.get(k) == v for k, v in stamp.items()
    )


def convert(peer: str, weights: Path, peers_dir: Path, check: bool = True) -> dict:
    src = load_source(weights)
    converted = to_neural_style(src) if peer == "neural-style" else to_pystiche(src)
    report: dict = {"peer": peer, "output": str(output_path(peer, peers_dir))}
    if check:
        report["check"] = (
            check_neural_style(src, converted) if peer == "neural-style" else check_pystiche(src, converted)
        )
        bad = (
            report["check"]["relu5_3_max_rel_diff"] > 1e-2
            or report["check"]["relu1_1_interior_max_rel_diff"] > 1e-4
            if peer == "neural-style"
            else not report["check"]["identical_to_source"]
        )
        if bad:
            raise RuntimeError(f"conversion check failed for {peer}: {report['check']}")
    out = output_path(peer, peers_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    torch.save(converted, tmp)
    os.replace(tmp, out)
    meta = {**_source_stamp(weights), "sha256": _sha256(weights), "converter_version": CONVERTER_VERSION}
    if check:
        meta["check"] = report["check"]
    out.with_name(out.name + ".source.json").write_text(json.dumps(meta, indent=2) + "\n")
    return report


def ensure(peer: str, weights: Path | None = None, peers_dir: Path | None = None) -> Path:
    """Path of the converted file for `peer`, converting first if missing or stale."""
    weights = Path(weights) if weights else default_weights()
    peers_dir = Path(peers_dir) if peers_dir else default_peers_dir()
    if not weights.exists():
        out = output_path(peer, peers_dir)
        if out.exists():  # converted earlier; the source is just not reachable now
            return out
        raise FileNotFoundError(f"VGG16 weights not found: {weights} (set NST_VGG16_WEIGHTS)")
    if not is_fresh(peer, weights, peers_dir):
        report = convert(peer, weights, peers_dir)
        print(f"converted {weights.name} for {peer}: {report}", file=sys.stderr)
    return output_path(peer, peers_dir)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--peer", choices=["neural-style", "pystiche", "all"], default="all")
    ap.add_argument("--weights", type=Path, default=None, help="VGG16 features safetensors")
    ap.add_argument("--peers-dir", type=Path, default=None)
    ap.add_argument("--force", action="store_true", help="convert even if up to date")
    ap.add_argument("--no-check", action="store_true", help="skip the numerical check")
    args = ap.parse_args(argv)
    weights = args.weights or default_weights()
    peers_dir = args.peers_dir or default_peers_dir()
    peers = ["neural-style", "pystiche"] if args.peer == "all" else [args.peer]
    for peer in peers:
        if not args.force and is_fresh(peer, weights, peers_dir):
            print(f"{peer}: up to date: {output_path(peer, peers_dir)}")
            continue
        report = convert(peer, weights, peers_dir, check=not args.no_check)
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
