"""The API's answers to wrong input: odd and bad uploads, wrong parameters on every endpoint, NaN in raw JSON,
missing weights. Every refusal reaches the client as the package's sentence (an AppError), never as Gradio's
message-less error, and the server keeps answering."""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from support.http import GENERIC, error_text, raw_call, refusal, upload
from support.odd_images import CONVERTED, REFUSED, Odd, animated, cmyk, palette_with_transparency
from support.pictures import rgb

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

FAST = dict(size=48, steps=1)


def still_answers(client: Client, photo: Path) -> None:
    image, info = client.predict(handle_file(photo), painter="monet", strength=0.0, api_name="/cyclegan")
    assert info["done"] and Image.open(image).size == Image.open(photo).size


@pytest.mark.parametrize("odd", CONVERTED, ids=lambda o: o.name)
def test_odd_uploads_are_converted_as_documented(client, odd: Odd, tmp_path):
    """What the package documents (16-bit scaled, transparency on white, EXIF upright, first
    frame...) is what a client of the app gets: Gradio hands the upload over unconverted."""
    src = odd.write(tmp_path)
    image, info = client.predict(handle_file(src), painter="monet", strength=0.0, api_name="/cyclegan")
    arr = rgb(image)
    assert (arr.shape[1], arr.shape[0]) == odd.size == (info["width"], info["height"])
    odd.check(arr)


@pytest.mark.parametrize("odd", REFUSED, ids=lambda o: o.name)
def test_odd_uploads_are_refused_with_the_packages_message(
    client, odd: Odd, tmp_path, style_path, content_path
):
    src = odd.write(tmp_path)
    calls = [
        ("content image", dict(api_name="/cyclegan"), [handle_file(src)]),
        ("content image", dict(api_name="/gatys", **FAST), [handle_file(src), handle_file(style_path)]),
        ("style image", dict(api_name="/texture", width=32, height=32, steps=1), [handle_file(src)]),
        (
            "extra style image 1",
            dict(api_name="/mmd", extra_styles=[handle_file(src)], **FAST),
            [handle_file(content_path), handle_file(style_path)],
        ),
    ]
    for what, kwargs, args in calls:
        message = refusal(client.predict, *args, **kwargs)
        assert message.startswith(what) and re.search(odd.refused, message), (kwargs["api_name"], message)
    still_answers(client, content_path)


def test_optimization_runs_on_converted_uploads(client, vgg19_env, tmp_path):
    """CMYK photo, palette style with transparency, an animated GIF as a second style: all converted, a result."""
    photo, style, extra = tmp_path / "photo.jpg", tmp_path / "style.png", tmp_path / "extra.gif"
    photo.write_bytes(cmyk("JPEG"))
    style.write_bytes(palette_with_transparency())
    extra.write_bytes(animated("GIF"))
    image, info = client.predict(
        handle_file(photo),
        handle_file(style),
        size=48,
        steps=2,
        extra_styles=[handle_file(extra)],
        api_name="/gatys",
    )
    assert Image.open(image).size == (48, 29) and info["done"]


PARAMETER_CASES = [
    ("/gatys", "size", 0, r"^size: must be between 32 and 1024 on this server, got 0$"),
    ("/gatys", "size", -5, r"^size: must be between 32 and 1024 on this server, got -5$"),
    ("/gatys", "size", 10**30, r"^size: must be between 32 and 1024 on this server, got a 31-digit number$"),
    (
        "/gatys",
        "size",
        "9" * 400,
        r"^size: must be between 32 and 1024 on this server, got a 400-digit number$",
    ),
    ("/gatys", "size", 5000, r"^size: must be between 32 and 1024 on this server, got 5000$"),
    ("/gatys", "size", 10000, r"^size: must be between 32 and 1024 on this server, got 10000$"),
    ("/gatys", "size", 4000, r"^size: must be between 32 and 1024 on this server, got 4000$"),
    ("/gatys", "size", "abc", r"^size: expected a whole number, got 'abc'"),
    ("/gatys", "size", [1], r"^size: expected a whole number"),
    ("/gatys", "size", None, r"^size: expected a whole number, got None"),
    ("/gatys", "steps", 10**9, r"^steps: must be between 1 and 2000 on this server, got 1000000000$"),
    ("/gatys", "steps", 5000, r"^steps: must be between 1 and 2000 on this server, got 5000$"),
    ("/gatys", "tile_size", 16, r"^tile_size: this server takes tiles of at least 256 px"),
    ("/gatys", "tile_size", "big", r"^tile_size: expected a whole number, got 'big'"),
    ("/texture", "tile_size", 10**9, r"^tile_size: must be between 16 and 8192"),
    ("/gatys", "seed", -1, r"^seed: must be between 0 and"),
    ("/gatys", "seed", 2**80, r"^seed: must be between 0 and"),
    ("/gatys", "scales", 99, r"^scales: must be between 1 and 6"),
    ("/gatys", "style_weight", -1, r"^style_weight: must not be negative"),
    ("/gatys", "style_weight", "abc", r"^style_weight: expected a number, got 'abc'"),
    ("/gatys", "style_weight", {"a": 1}, r"^style_weight: expected a number"),
    ("/gatys", "content_weight", None, r"^content_weight: expected a number, got None"),
    ("/gatys", "tv_weight", True, r"^tv_weight: expected a number, got True"),
    ("/gatys", "learning_rate", "fast", r"^learning_rate: expected a number"),
    ("/gatys", "learning_rate", 1e9, r"^learning_rate: must be at most"),
    ("/gatys", "style_scale", 0, r"^style_scale: must be at least"),
    ("/gatys", "backbone", "resnet50", r"^backbone: 'resnet50' is not one of vgg16, vgg19$"),
    (
        "/gatys",
        "backbone",
        "r" * 5000,
        r"^backbone: 'r{20,40}\.\.\.r' \(5002 characters\) is not one of vgg16, vgg19$",
    ),
    ("/gatys", "backbone", None, r"^backbone: None is not one of"),
    ("/gatys", "optimizer", "sgd", r"^optimizer: 'sgd' is not one of lbfgs, adam$"),
    ("/gatys", "style_layers", "conv9_9", r"^style_layers: 'conv9_9' is not a layer of vgg19"),
    ("/gatys", "style_layers", 5, r"^style_layers: '5' is not a layer"),
    ("/gatys", "content_layers", "", r"^content_layers: at least one layer is needed"),
    ("/gatys", "style_layer_weights", "1,2", r"^style_layer_weights: 2 weights given for 5 style layers"),
    ("/gatys", "style_layer_weights", "nan,1,1,1,1", r"^style_layer_weights: must be a finite number"),
    ("/gatys", "style_blend", "-1", r"^style_blend: must not be negative"),
    ("/histogram", "hist_weight", -3, r"^hist_weight: must not be negative"),
    ("/histogram", "hist_layers", "relu9_1", r"^hist_layers: 'relu9_1' is not a layer"),
    ("/mmd", "style_loss", "gram2", r"^style_loss: 'gram2' is not one of "),
    ("/mmd", "mmd_poly_c", -1, r"^mmd_poly_c: must not be negative"),
    ("/photorealistic", "photo_weight", "lots", r"^photo_weight: expected a number"),
    ("/texture", "width", 0, r"^width: must be between 16 and 1024 on this server, got 0$"),
    (
        "/texture",
        "height",
        10**12,
        r"^height: must be between 16 and 1024 on this server, got 1000000000000$",
    ),
    ("/texture", "width", "wide", r"^width: expected a whole number, got 'wide'"),
    ("/texture", "height", None, r"^height: expected a whole number, got None"),
    ("/texture", "steps", 0, r"^steps: must be between 1 and 2000 on this server, got 0$"),
    ("/cyclegan", "strength", -1, r"^strength: must not be negative, got -1$"),
    ("/cyclegan", "strength", "full", r"^strength: expected a number, got 'full'"),
    ("/cyclegan", "strength", None, r"^strength: expected a number, got None"),
    ("/cyclegan", "brush_scale", 1e9, r"^brush_scale: must be at most 4, got 1e\+09$"),
    ("/cyclegan", "brush_scale", [2], r"^brush_scale: expected a number"),
    ("/cyclegan", "max_size", -3, r"^max_size: must be between 16 and 1024 on this server, got -3$"),
    ("/cyclegan", "max_size", "big", r"^max_size: expected a whole number, got 'big'"),
    (
        "/cyclegan",
        "painter",
        "../../etc/passwd",
        r"^painter: '\.\./\.\./etc/passwd' is not in the CycleGAN catalogue; choose one of monet, vangogh",
    ),
    ("/cyclegan", "painter", "/etc/passwd", r"^painter: '/etc/passwd' is not in the CycleGAN catalogue"),
    (
        "/cyclegan",
        "painter",
        "m" * 5000,
        r"^painter: 'm{20,40}\.\.\.m' \(5002 characters\) is not in the CycleGAN catalogue",
    ),
    (
        "/cyclegan",
        "painter",
        "cezanne",
        r"^painter: cezanne is not offered on this server; choose one of monet, vangogh$",
    ),
    ("/cyclegan", "painter", None, r"^painter: None is not in the CycleGAN catalogue"),
]


def _images_for(endpoint: str, content: Path, style: Path) -> list:
    if endpoint in ("/cyclegan",):
        return [handle_file(content)]
    if endpoint == "/texture":
        return [handle_file(style)]
    return [handle_file(content), handle_file(style)]


def test_wrong_parameters_get_a_message_naming_them_on_every_endpoint(
    client, content_path, style_path, painter
):
    failures = []
    for endpoint, name, value, pattern in PARAMETER_CASES:
        base = {"/cyclegan": dict(strength=0.0), "/texture": dict(width=32, height=32, steps=1)}.get(
            endpoint, dict(FAST)
        )
        try:
            message = refusal(
                client.predict,
                *_images_for(endpoint, content_path, style_path),
                **{**base, name: value},
                api_name=endpoint,
            )
        except BaseException as exc:  # collect every mismatch, then report them together
            failures.append(f"{endpoint} {name}={value!r}: {type(exc).__name__}: {exc}")
            continue
        if not re.search(pattern, message):
            failures.append(f"{endpoint} {name}={value!r}: {message!r} does not match {pattern!r}")
    assert not failures, "\n".join(failures)
    still_answers(client, content_path)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_nan_and_infinity_sent_as_raw_json_are_refused_by_name(
    server, client, value, content_path, style_path
):
    content, style = upload(server, content_path), upload(server, style_path)
    cases = [
        (
            "gatys",
            {"content": content, "style": style, "size": value},
            r"^size: expected a whole number, got -?(nan|inf)$",
        ),
        (
            "gatys",
            {"content": content, "style": style, "size": 48, "steps": 1, "style_weight": value},
            r"style_weight: must be a finite number",
        ),
        (
            "gatys",
            {"content": content, "style": style, "size": 48, "steps": 1, "seed": value},
            r"seed: expected a whole number",
        ),
        (
            "texture",
            {"style": style, "width": value, "steps": 1},
            r"^width: expected a whole number",
        ),
        (
            "cyclegan",
            {"content": content, "strength": value},
            r"strength: (must be a finite number|.*must be a number from 0)",
        ),
        (
            "cyclegan",
            {"content": content, "strength": 0, "max_size": value},
            r"^max_size: expected a whole number",
        ),
    ]
    for api, values, pattern in cases:
        event, data = raw_call(server, api, values)
        text = error_text(data)
        assert event == "error" and re.search(pattern, text) and GENERIC not in text, (
            api,
            values,
            event,
            text,
        )
    still_answers(client, content_path)


def test_a_painter_without_weights_is_a_sentence_for_the_person_and_the_fix_is_in_the_log(
    client, hub_cache, content_path, caplog
):
    with caplog.at_level(logging.ERROR, logger="nst.server"):
        with pytest.raises(AppError) as err:
            client.predict(handle_file(content_path), painter="vangogh", api_name="/cyclegan")
    assert str(err.value) == "the Vincent van Gogh painter (vangogh) is not installed on this server"
    logged = [r.getMessage() for r in caplog.records if "vangogh" in r.getMessage()]
    assert len(logged) == 1 and "hf download davidpiscasio/unpaired-img2img" in logged[0], (
        "the operator's fix, once"
    )


def test_bad_uploads_get_clear_messages_and_the_server_keeps_answering(
    client, vgg19_env, style_path, tmp_path
):
    text = tmp_path / "notes.png"
    text.write_text("this is a shopping list, not a picture\n")
    dot = tmp_path / "dot.png"
    Image.new("RGB", (1, 1), "red").save(dot)
    huge = tmp_path / "huge.png"
    Image.new("L", (10_000, 6_000)).save(huge)  # 60 megapixels of black: a small file, a big image
    cases = [
        (text, "content image is not an image file that can be read"),
        (dot, "content image is 1x1 pixels; images must be at least 16 pixels on each side"),
        (huge, r"content image is 10000x6000 pixels \(60 megapixels\); the limit is 50 megapixels"),
    ]
    for path, message in cases:
        with pytest.raises(AppError, match=message):
            client.predict(handle_file(path), handle_file(style_path), **FAST, api_name="/gatys")
    with pytest.raises(AppError, match="size: must be between 32 and 1024 on this server, got 4000"):
        client.predict(
            handle_file(style_path), handle_file(style_path), size=4000, steps=1, api_name="/gatys"
        )
    with pytest.raises(AppError, match="style_weight: must not be negative"):
        client.predict(
            handle_file(style_path),
            handle_file(style_path),
            size=48,
            steps=1,
            style_weight=-1,
            api_name="/gatys",
        )
    image, _ = client.predict(handle_file(style_path), handle_file(style_path), **FAST, api_name="/gatys")
    assert Image.open(image).size == (48, 48), "the server still answers"


def test_upload_over_the_file_size_limit_is_refused(client, tmp_path, style_path):
    big = tmp_path / "big.png"
    big.write_bytes(np.random.default_rng(0).bytes(3 * 1024 * 1024))
    with pytest.raises(Exception, match="(?i)too large|size|413"):
        client.predict(handle_file(big), handle_file(style_path), **FAST, api_name="/gatys")


def test_missing_vgg_weights_are_a_sentence_for_the_person_and_the_fix_is_in_the_log(
    client, content_path, style_path, caplog
):
    """No NST_VGG19_WEIGHTS, empty torch cache, offline: the app started anyway; the person is told plainly,
    the operator finds the variables and paths in the log."""
    with caplog.at_level(logging.ERROR, logger="nst.server"):
        with pytest.raises(AppError) as err:
            client.predict(handle_file(content_path), handle_file(style_path), **FAST, api_name="/gatys")
    assert "has no vgg19 network weights yet" in str(err.value) and "NST_VGG19_WEIGHTS" not in str(err.value)
    logged = [r.getMessage() for r in caplog.records if "NST_VGG19_WEIGHTS" in r.getMessage()]
    assert len(logged) == 1 and "TORCH_HOME" in logged[0]
