"""Where the time of one Gatys run goes (torch.profiler, CPU), top operators by self time.

python benchmarks/profile_gatys.py [--size 256] [--steps 5] [--backbone vgg19]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torchvision
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import nst  # noqa: E402
from nst.settings import Settings  # noqa: E402

SHARED = ROOT.parent / "shared" / "images"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--backbone", default="vgg19")
    ap.add_argument("--rows", type=int, default=15)
    args = ap.parse_args()
    torch.manual_seed(0)
    path = Path("/tmp") / f"nst-profile-{args.backbone}.safetensors"
    if not path.exists():
        save_file(
            {
                k: v.contiguous()
                for k, v in getattr(torchvision.models, args.backbone)().features.state_dict().items()
            },
            str(path),
        )
    s = Settings(backbone=args.backbone, size=args.size, steps=args.steps)
    content, style = SHARED / "content" / "tubingen.jpg", SHARED / "styles" / "starry_night.jpg"
    nst.stylize(content, style, s.replace(steps=1), vgg_weights=str(path))  # warm-up, loads weights
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        nst.stylize(content, style, s, vgg_weights=str(path))
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows))


if __name__ == "__main__":
    main()
