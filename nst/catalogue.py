"""The catalogue of pretrained CycleGAN generators: the only ones the app and the API load.

Each entry says where its weights live on the Hugging Face Hub (repo, file, pinned revision),
under which licence, and where we confirmed that the file is there. Pinning the revision to a
commit means a later push to that repo cannot change what we load, and lets
``huggingface_hub`` serve a pre-filled cache with no network call at all.

The official photo-to-painting generators (``style_monet``, ``style_vangogh``,
``style_cezanne``, ``style_ukiyoe``) are published by the CycleGAN authors only on their
own server; the Hub has unofficial copies. Where no copy could be confirmed, the entry has no
source and is listed as unavailable until a deployer mirrors the official file to a repo they
control and points the entry at it with environment variables (read on every lookup)::

    NST_CYCLEGAN_<NAME>_REPO       owner/name
    NST_CYCLEGAN_<NAME>_FILE       path of the .pth or .safetensors file in that repo; or, as an
                                   absolute path (and no REPO), a generator file on this machine
    NST_CYCLEGAN_<NAME>_REVISION   branch, tag or (best) commit hash; default: main
    NST_CYCLEGAN_<NAME>_REPO_TYPE  model (default when REPO is set), space or dataset

A local file is read with the same strict, pickle-free reader as a download.

Environment variables are set by whoever runs the server, never by its clients, so clients
still can only pick catalogue names and cannot make the server load a file of their choice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from .errors import SettingsError, shown
from .generator import GeneratorOptions

_REPO_TYPES = ("model", "space", "dataset")

#: The reference architecture every official CycleGAN generator uses.
REFERENCE = GeneratorOptions(ngf=64, n_blocks=9, norm_affine=False)

#: davidpiscasio/unpaired-img2img, commit "Added checkpoints folder" (23 Mar 2022): the only
#: commit that touched checkpoints/ in the Space's history as seen on the Hub's commit pages.
_PISCASIO = "davidpiscasio/unpaired-img2img"
_PISCASIO_REV = "3ce13dcd9fafca8f086ff5a532cf2cc34431995e"
_PISCASIO_LICENCE = (
    "BSD-2-Clause (Space card: license: bsd-2-clause); the files are the CycleGAN authors' "
    "pretrained models from junyanz/pytorch-CycleGAN-and-pix2pix (BSD licence)"
)
_PISCASIO_SEEN = (
    "huggingface.co/spaces/davidpiscasio/unpaired-img2img/commit/3ce13dcd9fafca8f086ff5a532cf2cc34431995e "
    "adds checkpoints/{folder}/latest_net_G.pth as a Git LFS file{extra}; "
    "the Space's models/networks.py is the reference code"
)
_UNHOSTED = (
    "not confirmed on the Hub: the official file {file}.pth is served by the authors at "
    "efrosgans.eecs.berkeley.edu/cyclegan/pretrained_models/ (scripts/download_cyclegan_model.sh); "
    "mirror it to a repo you control and set NST_CYCLEGAN_{upper}_REPO and _FILE"
)


@dataclass(frozen=True)
class Painter:
    """One pretrained generator and where to get it."""

    name: str
    display_name: str
    description: str
    repo_id: str | None
    filename: str | None
    revision: str | None
    repo_type: str
    licence: str
    source: str
    kind: str = "painting"  # "painting" (photo to painting) or "object" (other translations)
    options: GeneratorOptions = REFERENCE
    local_file: str | None = None  #: a generator file on this machine, set by the operator

    @property
    def available(self) -> bool:
        """Whether the entry has a source: a Hub file to download, or a local file."""
        return bool(self.local_file or (self.repo_id and self.filename))

    @property
    def hub_url(self) -> str | None:
        if not self.available:
            return None
        prefix = {"model": "", "space": "spaces/", "dataset": "datasets/"}[self.repo_type]
        return f"https://huggingface.co/{prefix}{self.repo_id}/blob/{self.revision or 'main'}/{self.filename}"

    def download_command(self) -> str:
        """The shell command that fills the Hub cache with this entry's file."""
        if not self.available:
            return f"(no source: set NST_CYCLEGAN_{self.name.upper()}_REPO and NST_CYCLEGAN_{self.name.upper()}_FILE)"
        cmd = f"hf download {self.repo_id} {self.filename}"
        if self.repo_type != "model":
            cmd += f" --repo-type {self.repo_type}"
        if self.revision:
            cmd += f" --revision {self.revision}"
        return cmd


def _piscasio(name: str, display: str, folder: str, description: str, kind: str, extra: str = "") -> Painter:
    return Painter(
        name=name,
        display_name=display,
        description=description,
        repo_id=_PISCASIO,
        filename=f"checkpoints/{folder}/latest_net_G.pth",
        revision=_PISCASIO_REV,
        repo_type="space",
        licence=_PISCASIO_LICENCE,
        source=_PISCASIO_SEEN.format(folder=folder, extra=extra),
        kind=kind,
    )


def _unhosted(name: str, display: str, file: str, description: str) -> Painter:
    return Painter(
        name=name,
        display_name=display,
        description=description,
        repo_id=None,
        filename=None,
        revision=None,
        repo_type="model",
        licence="BSD (CycleGAN authors' pretrained model), once mirrored",
        source=_UNHOSTED.format(file=file, upper=name.upper()),
    )


_ENTRIES = (
    _piscasio(
        "monet",
        "Claude Monet",
        "style_monet_pretrained",
        "Impressionist landscape painting: soft broken brushwork, pastel light (official style_monet).",
        "painting",
    ),
    _piscasio(
        "vangogh",
        "Vincent van Gogh",
        "style_vangogh_pretrained",
        "Post-impressionist: saturated colour, bold swirling strokes (official style_vangogh).",
        "painting",
    ),
    _unhosted(
        "cezanne",
        "Paul Cézanne",
        "style_cezanne",
        "Post-impressionist: blocky planes of muted greens and ochres (official style_cezanne).",
    ),
    _unhosted(
        "ukiyoe",
        "Ukiyo-e",
        "style_ukiyoe",
        "Japanese woodblock print: flat colour areas, dark outlines, paper tones (official style_ukiyoe).",
    ),
    _piscasio(
        "horse2zebra",
        "Horse to zebra",
        "horse2zebra_pretrained",
        "Object transfiguration, not a painting style: paints zebra stripes on horses (official horse2zebra).",
        "object",
        extra=" (with its test_opt.txt)",
    ),
    _piscasio(
        "zebra2horse",
        "Zebra to horse",
        "zebra2horse_pretrained",
        "Object transfiguration: turns zebras into horses (official zebra2horse).",
        "object",
    ),
    _piscasio(
        "apple2orange",
        "Apple to orange",
        "apple2orange_pretrained",
        "Object transfiguration: turns apples into oranges (official apple2orange).",
        "object",
        extra=" (LFS pointer: sha256 ff989c98f3a0..., 45,575,747 bytes)",
    ),
    _piscasio(
        "orange2apple",
        "Orange to apple",
        "orange2apple_pretrained",
        "Object transfiguration: turns oranges into apples (official orange2apple).",
        "object",
    ),
)

#: name -> entry, as built in (before environment overrides).
CATALOGUE: dict[str, Painter] = {e.name: e for e in _ENTRIES}


def _override(entry: Painter) -> Painter:
    prefix = f"NST_CYCLEGAN_{entry.name.upper()}_"
    repo = os.environ.get(prefix + "REPO", "").strip()
    file = os.environ.get(prefix + "FILE", "").strip()
    revision = os.environ.get(prefix + "REVISION", "").strip()
    repo_type = os.environ.get(prefix + "REPO_TYPE", "").strip().lower()
    if not (repo or file or revision or repo_type):
        return entry
    if file and os.path.isabs(file) and not repo:
        return replace(
            entry,
            local_file=file,
            source=f"a local file ({prefix}FILE)",
            licence="as the operator's file was published",
        )
    if repo_type and repo_type not in _REPO_TYPES:
        raise SettingsError(f"{prefix}REPO_TYPE is {repo_type!r}; use one of {', '.join(_REPO_TYPES)}")
    if repo and repo != entry.repo_id:
        # A different repo: the built-in file name and commit do not apply unless given again.
        changes = dict(
            repo_id=repo,
            revision=revision or None,
            repo_type=repo_type or "model",
            filename=file or entry.filename,
        )
    else:
        changes = dict(
            filename=file or entry.filename,
            revision=revision or entry.revision,
            repo_type=repo_type or entry.repo_type,
        )
    new = replace(
        entry,
        source=f"set by environment ({prefix}*)",
        licence="as published by the configured repo",
        **changes,
    )
    if not new.available:
        raise SettingsError(
            f"painter {entry.name!r}: set both {prefix}REPO and {prefix}FILE, or {prefix}FILE alone "
            "as an absolute path to a local file"
        )
    return new


def get_entry(name: str) -> Painter:
    """The catalogue entry called ``name`` (case-insensitive), with environment overrides applied."""
    key = str(name).strip().lower().replace("-", "").replace(" ", "")
    entry = CATALOGUE.get(key)
    if entry is None:
        raise SettingsError(
            f"painter: {shown(name)} is not in the CycleGAN catalogue; choose one of {', '.join(CATALOGUE)}"
        )
    return _override(entry)


def entries(available_only: bool = False) -> list[Painter]:
    """All entries in catalogue order (overrides applied); optionally only those with a source."""
    resolved = [get_entry(name) for name in CATALOGUE]
    return [e for e in resolved if e.available] if available_only else resolved
