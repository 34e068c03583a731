"""The VGG feature extractor: layer names, taps, pooling, truncation."""

from __future__ import annotations

import torch
import torchvision

from nst.layers import layer_names, tap_names
from nst.vgg import VGGFeatures


def test_layer_names_follow_torchvision_indices():
    for backbone, n_conv in (("vgg16", 13), ("vgg19", 16)):
        names = layer_names(backbone)
        ref = getattr(torchvision.models, backbone)().features
        assert len(names) == len(ref)
        for name, module in zip(names, ref):
            kind = {"Conv2d": "conv", "ReLU": "relu", "MaxPool2d": "pool"}[type(module).__name__]
            assert name.startswith(kind)
        assert sum(n.startswith("conv") for n in names) == n_conv
    assert layer_names("vgg19")[21] == "conv4_2" and layer_names("vgg19")[-1] == "pool5"
    assert "conv5_4" in tap_names("vgg19") and "conv5_4" not in tap_names("vgg16")


def test_taps_have_expected_shapes_and_match_torchvision(vgg19_state):
    net = VGGFeatures("vgg19", vgg19_state, pooling="max")
    x = torch.rand(1, 3, 64, 48)
    feats = net(x, ["conv1_1", "relu2_1", "conv4_2", "conv5_1"])
    assert feats["conv1_1"].shape == (1, 64, 64, 48)
    assert feats["relu2_1"].shape == (1, 128, 32, 24)
    assert feats["conv4_2"].shape == (1, 512, 8, 6)
    assert feats["conv5_1"].shape == (1, 512, 4, 3)
    assert (feats["relu2_1"] >= 0).all() and (feats["conv1_1"] < 0).any()  # ReLU not in-place
    # Independent computation: torchvision's own module with the same weights and normalization.
    ref = torchvision.models.vgg19().features
    ref.load_state_dict(vgg19_state)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = ref[:22]((x - mean) / std)  # index 21 is conv4_2
    assert torch.allclose(feats["conv4_2"], expected, atol=1e-4, rtol=1e-4)


def test_avg_pooling_and_truncation(vgg19_state):
    net = VGGFeatures("vgg19", vgg19_state, pooling="avg")
    assert isinstance(net.features[4], torch.nn.AvgPool2d)
    short = net.truncated(["conv1_1", "conv3_1"])
    assert len(short.features) == layer_names("vgg19").index("conv3_1") + 1
    assert short.features[0].weight is net.features[0].weight  # shared, not copied
    assert not any(p.requires_grad for p in net.parameters())
    assert not net.training


def test_taps_come_out_in_float32_from_a_half_precision_view(vgg19_state):
    """Losses sum over every position of a tap: a Gram of half-precision features overflows."""
    net = VGGFeatures("vgg19", vgg19_state, pooling="avg")
    x = torch.rand(1, 3, 32, 32)
    feats = net.truncated(["conv2_1"], torch.bfloat16)(x, ["conv1_1", "conv2_1"])
    assert {f.dtype for f in feats.values()} == {torch.float32}
    exact = net(x, ["conv2_1"])["conv2_1"]
    assert (feats["conv2_1"] - exact).abs().max() > 0  # computed in bfloat16, only handed over in float32
