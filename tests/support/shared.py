"""``../shared`` beside the project: real pretrained weights and real paintings for quality checks
(never copied into the project). Tests that need it skip, saying why, where it is absent."""

from pathlib import Path

SHARED = Path(__file__).resolve().parents[3] / "shared"
VGG16 = SHARED / "weights" / "vgg16-imagenet-features.safetensors"
VINTAGE = SHARED / "weights" / "cyclegan-vintage-generator.safetensors"
IMAGES = SHARED / "images"
