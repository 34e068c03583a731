"""What this machine can run: which networks and painters are ready, which are missing, and how to
provide them. Nothing is downloaded here; a server reads it once at start-up, logs it for its operator
and shows it to the people who use its page (:mod:`nst.ui.page`), whose painter menu lists the
ready painters first.

Each model is in one of three states: ``ready`` (its weights are on this machine), ``download``
(not here, but this machine may download it on first use: online, and it has a source) or ``missing``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import catalogue, weights
from .downloads import offline
from .layers import BACKBONES

READY, DOWNLOAD, MISSING = "ready", "download", "missing"
#: Ready first, then those a run would download, then the missing.
ORDER = {READY: 0, DOWNLOAD: 1, MISSING: 2}


@dataclass(frozen=True)
class Model:
    """One network or painter and whether it can run here."""

    name: str  #: the package's name: vgg19, vgg16, monet...
    label: str  #: as a person reads it
    state: str  #: ready, download or missing
    hint: str = ""  #: how to provide it, in words fit for a public page (empty when ready)
    fix: str = ""  #: the same for the operator's log, with this machine's paths

    @property
    def runnable(self) -> bool:
        return self.state != MISSING


def networks() -> list[Model]:
    """The VGG backbones: on disk (``NST_VGG*_WEIGHTS`` or torchvision's cache), downloadable, or missing."""
    cut_off = offline()
    found = []
    for backbone in BACKBONES:
        label = f"{backbone.upper()} network"
        if weights.local_vgg_weights(backbone) is not None:
            found.append(Model(backbone, label, READY))
            continue
        hint = (
            f"set {weights.ENV_VARS[backbone]} to a {backbone} weights file, or put torchvision's "
            f"{weights.torchvision_cache_file(backbone).name} in torch's hub cache"
        )
        found.append(
            Model(backbone, label, MISSING if cut_off else DOWNLOAD, hint, weights.how_to_fix(backbone))
        )
    return found


def painters() -> list[Model]:
    """The catalogue's photo-to-painting generators with a source, ready ones first (then catalogue order)."""
    from huggingface_hub import constants, try_to_load_from_cache

    cut_off = offline()
    found = []
    for entry in catalogue.entries(available_only=True):
        if entry.kind != "painting":
            continue
        label = f"{entry.display_name} painter"
        if entry.local_file:
            here = Path(entry.local_file).is_file()
        else:
            cached = try_to_load_from_cache(
                entry.repo_id, entry.filename, revision=entry.revision, repo_type=entry.repo_type
            )
            here = isinstance(cached, str)
        hint = (
            f"run '{entry.download_command()}' on a machine with internet and bring its Hugging Face cache, "
            f"or set NST_CYCLEGAN_{entry.name.upper()}_FILE to a generator file"
        )
        fix = f"{hint} (this server's Hub cache: {constants.HF_HUB_CACHE})"
        state = READY if here else (MISSING if cut_off or entry.local_file else DOWNLOAD)
        found.append(Model(entry.name, label, state, *(("", "") if state == READY else (hint, fix))))
    return sorted(found, key=lambda m: ORDER[m.state])


def report(models: list[Model]) -> list[str]:
    """One line per model for the operator's log."""
    words = {READY: "ready", DOWNLOAD: "not here; downloaded on first use", MISSING: "MISSING"}
    return [
        f"{m.label} ({m.name}): {words[m.state]}" + (f"; to provide it: {m.fix}" if m.fix else "")
        for m in models
    ]
