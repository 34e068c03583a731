"""The straightforward reference: style transfer written the way the PyTorch NST tutorial does it.

Loss modules are inserted into a copied ``nn.Sequential`` after the chosen layers, the
normalization is a module recomputed every step, targets are computed while the model is
built, and the input is clamped inside every L-BFGS closure. Only the loss formulas are
changed to the engine's (same layers, same per-layer constants, same weights), so both
optimize the identical objective and their final losses can be compared. Benchmark use only.
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

from nst.layers import IMAGENET_MEAN, IMAGENET_STD


class ContentLoss(nn.Module):
    def __init__(self, target: torch.Tensor, scale: float) -> None:
        super().__init__()
        self.target, self.scale = target.detach(), scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.loss = self.scale * F.mse_loss(x, self.target)
        return x


def gram(x: torch.Tensor) -> torch.Tensor:
    a, b, c, d = x.size()
    f = x.view(a * b, c * d)
    return torch.mm(f, f.t()).div(c * d)


class StyleLoss(nn.Module):
    def __init__(self, target_feature: torch.Tensor, scale: float) -> None:
        super().__init__()
        self.target, self.scale = gram(target_feature).detach(), scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.target.shape[0]
        self.loss = self.scale * (gram(x) - self.target).pow(2).sum() / (4 * n * n)
        return x


class Normalization(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.mean = torch.tensor(IMAGENET_MEAN).view(-1, 1, 1)
        self.std = torch.tensor(IMAGENET_STD).view(-1, 1, 1)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        return (img - self.mean.to(img.device)) / self.std.to(img.device)


def build_model(
    cnn: nn.Sequential,
    names: list[str],
    content: torch.Tensor,
    style: torch.Tensor,
    content_layers,
    style_layers,
    style_scales: dict,
    content_scales: dict,
):
    cnn = copy.deepcopy(cnn)
    model = nn.Sequential(Normalization())
    content_losses, style_losses = [], []
    for name, layer in zip(names, cnn.children()):
        if isinstance(layer, nn.ReLU):
            layer = nn.ReLU(inplace=False)
        model.add_module(name, layer)
        if name in content_layers:
            target = model(content).detach()
            cl = ContentLoss(target, content_scales[name])
            model.add_module(f"content_loss_{name}", cl)
            content_losses.append(cl)
        if name in style_layers:
            target = model(style).detach()
            sl = StyleLoss(target, style_scales[name])
            model.add_module(f"style_loss_{name}", sl)
            style_losses.append(sl)
    for i in range(len(model) - 1, -1, -1):
        if isinstance(model[i], (ContentLoss, StyleLoss)):
            break
    return model[: i + 1], style_losses, content_losses


def run_reference(
    cnn: nn.Sequential,
    names: list[str],
    content: torch.Tensor,
    style: torch.Tensor,
    steps: int,
    content_layers,
    style_layers,
    style_scales,
    content_scales,
    style_weight: float,
    content_weight: float,
) -> torch.Tensor:
    model, style_losses, content_losses = build_model(
        cnn, names, content, style, content_layers, style_layers, style_scales, content_scales
    )
    x = content.clone().requires_grad_(True)
    model.eval()
    model.requires_grad_(False)
    # The tutorial calls step() repeatedly with max_iter=20; one call with max_iter=steps is the
    # same sequence of iterations and evaluates the closure exactly ``steps`` times.
    optimizer = torch.optim.LBFGS([x], max_iter=steps, tolerance_grad=0.0, tolerance_change=0.0)
    run = [0]
    if True:

        def closure():
            with torch.no_grad():
                x.clamp_(0, 1)
            optimizer.zero_grad()
            model(x)
            style_score = sum(sl.loss for sl in style_losses) * style_weight
            content_score = sum(cl.loss for cl in content_losses) * content_weight
            loss = style_score + content_score
            loss.backward()
            run[0] += 1
            return loss

        optimizer.step(closure)
    with torch.no_grad():
        x.clamp_(0, 1)
    return x.detach()
