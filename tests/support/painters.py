"""Helpers for the CycleGAN tests: tiny seeded generators and a fake Hugging Face cache.

The fake cache is laid out exactly as ``huggingface_hub`` lays out its own downloads
(``<repo-type>s--<owner>--<name>/blobs/<sha256>``, ``snapshots/<commit>/<path>`` symlinked
to the blob, ``refs/main`` holding the commit), so the product code finds the files through
the same ``hf_hub_download`` call it makes in production, with the network switched off.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
from safetensors.torch import save_file

from nst.catalogue import Painter
from nst.generator import GeneratorOptions, InstanceNorm, ResnetGenerator

TINY = GeneratorOptions(ngf=4, n_blocks=1)


def tiny_generator(seed: int = 0, options: GeneratorOptions = TINY) -> ResnetGenerator:
    """A small generator with seeded weights; norm affine parameters randomised too."""
    torch.manual_seed(seed)
    net = ResnetGenerator(options)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if p.dim() == 1 and name.endswith("weight"):  # norm scale: around 1
                p.uniform_(0.5, 1.5)
            elif p.dim() == 1:
                p.uniform_(-0.2, 0.2)
    return net.eval()


def tiny_state(seed: int = 0, options: GeneratorOptions = TINY) -> dict[str, torch.Tensor]:
    return {k: v.clone().contiguous() for k, v in tiny_generator(seed, options).state_dict().items()}


def save_weights(state: dict[str, torch.Tensor], path: Path) -> Path:
    """Write a state dict as .safetensors or .pth, chosen by ``path``'s suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".safetensors":
        save_file(state, str(path))
    else:
        torch.save(state, path)
    return path


def repo_folder(cache: Path, repo_id: str, repo_type: str) -> Path:
    return cache / f"{repo_type}s--{repo_id.replace('/', '--')}"


def fill_hub_cache(cache: Path, entry: Painter, state: dict[str, torch.Tensor]) -> Path:
    """Put ``state`` into ``cache`` as ``entry``'s file at ``entry``'s revision; returns the snapshot path."""
    assert entry.repo_id and entry.filename and entry.revision
    folder = repo_folder(cache, entry.repo_id, entry.repo_type)
    staging = cache / "staging" / Path(entry.filename).name
    save_weights(state, staging)
    data = staging.read_bytes()
    blob = folder / "blobs" / hashlib.sha256(data).hexdigest()
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(data)
    snapshot = folder / "snapshots" / entry.revision / entry.filename
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    if snapshot.exists() or snapshot.is_symlink():
        snapshot.unlink()
    snapshot.symlink_to(os.path.relpath(blob, snapshot.parent))
    (folder / "refs").mkdir(exist_ok=True)
    (folder / "refs" / "main").write_text(entry.revision)
    return snapshot


def reference_output(
    state: dict[str, torch.Tensor], options: GeneratorOptions, x01: torch.Tensor
) -> torch.Tensor:
    """The generator's output computed independently: torch's own InstanceNorm2d, no padding logic.

    ``x01`` must already be a multiple of 4 on each side.
    """
    net = ResnetGenerator(options)
    for module in list(net.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, InstanceNorm):
                setattr(module, name, torch.nn.InstanceNorm2d(child.num_features, affine=child.affine))
    net.load_state_dict(state, strict=True)
    with torch.no_grad():
        return ((net.eval()(x01 * 2 - 1) + 1) / 2).clamp(0, 1)
