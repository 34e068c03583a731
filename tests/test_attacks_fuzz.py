"""Property-based checks: whatever bytes or values arrive, the only errors are the project's own.

Hypothesis generates image files (valid ones in many modes and sizes, corrupted and truncated
ones, random bytes) and settings values (NaN, negative, huge, wrong types); the loader and the
settings must either accept them (returning an 8-bit RGB image or valid settings) or raise an
NSTError with a message. Any other exception is a bug.
"""

import io
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from PIL import Image

from nst.errors import ImageError, NSTError, SettingsError
from nst.images import MAX_ASPECT, MIN_SIDE, load_image
from nst.settings import Settings

MODES = ["RGB", "L", "RGBA", "P", "CMYK", "LA", "1", "I;16", "F"]
FORMATS = {
    "PNG": ["RGB", "L", "RGBA", "P", "LA", "1", "I;16"],
    "JPEG": ["RGB", "L", "CMYK"],
    "GIF": ["P", "L"],
    "WEBP": ["RGB", "RGBA"],
    "TIFF": MODES,
    "BMP": ["RGB", "L", "P", "1"],
}


@st.composite
def image_files(draw):
    fmt = draw(st.sampled_from(sorted(FORMATS)))
    mode = draw(st.sampled_from(FORMATS[fmt]))
    w = draw(st.integers(1, 80))
    h = draw(st.integers(1, 80))
    seed = draw(st.integers(0, 2**16))
    arr = np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    im = Image.fromarray(arr, "RGB")
    if mode == "I;16":
        im = Image.fromarray(arr[..., 0].astype(np.uint16) * 257)
    elif mode == "F":
        im = Image.fromarray(arr[..., 0].astype(np.float32) / 255)
    else:
        im = im.convert(mode)
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    data = buf.getvalue()
    damage = draw(st.sampled_from(["none", "truncate", "flip", "prefix"]))
    if damage == "truncate":
        data = data[: draw(st.integers(0, max(0, len(data) - 1)))]
    elif damage == "flip" and len(data) > 20:
        pos = draw(st.integers(8, len(data) - 1))
        data = data[:pos] + bytes([data[pos] ^ 0xFF]) + data[pos + 1 :]
    elif damage == "prefix":
        data = draw(st.binary(max_size=16)) + data
    return data, (w, h), damage


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(image_files())
def test_loader_accepts_or_refuses_with_its_own_error(sample):
    data, (w, h), damage = sample
    try:
        im = load_image(data)
    except NSTError as exc:
        assert isinstance(exc, ImageError) and str(exc)
        if damage == "none":
            # An undamaged file is only refused for its size or shape.
            assert min(w, h) < MIN_SIDE or max(w, h) / min(w, h) > MAX_ASPECT, str(exc)
        return
    assert im.mode == "RGB"
    assert min(im.size) >= MIN_SIDE
    if damage == "none":
        assert im.size == (w, h)


@hsettings(max_examples=100, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_never_escape_as_foreign_errors(data):
    try:
        load_image(data)
    except ImageError as exc:
        assert str(exc)


ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.lists(st.text(max_size=8), max_size=4),
    st.lists(st.floats(), max_size=6),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
FIELDS = [f for f in Settings.__dataclass_fields__]


@hsettings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS), ANY_VALUE, max_size=4))
def test_settings_accept_or_refuse_with_a_named_reason(values):
    try:
        s = Settings.from_dict(values)
    except SettingsError as exc:
        msg = str(exc)
        assert msg and any(name in msg for name in values), msg
        return
    # Accepted: everything is finite and in range.
    assert 32 <= s.size <= 8192 and 1 <= s.steps <= 10_000
    for name in ("content_weight", "style_weight", "tv_weight"):
        assert math.isfinite(getattr(s, name)) and getattr(s, name) >= 0


def test_unknown_setting_names_are_named():
    with pytest.raises(SettingsError, match="unknown setting"):
        Settings.from_dict({"../../etc/passwd": 1})
