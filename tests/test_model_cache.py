"""The one cache of loaded networks: each loaded once however many ask at once, least recent out first,
and both VGG and CycleGAN go through it."""

from __future__ import annotations

import threading
import time

from nst import cyclegan, weights
from nst.model_cache import ModelCache


def test_loads_each_key_once_and_evicts_the_least_recent():
    cache = ModelCache(limit=2)
    loads = []

    def slow_load(name):
        def load():
            loads.append(name)
            time.sleep(0.05)
            return name

        return load

    threads = [threading.Thread(target=cache.get, args=(("a",), slow_load("a"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert loads == ["a"], "concurrent requests for one network load it once"
    cache.get(("b",), slow_load("b"))
    cache.get(("a",), slow_load("a"))  # a is now the most recent
    cache.get(("c",), slow_load("c"))  # evicts b
    cache.get(("b",), slow_load("b"))
    assert loads == ["a", "b", "c", "b"]


def test_vgg_and_generators_are_held_by_the_same_policy(vgg19_file, tiny_file):
    first = weights.load_vgg("vgg19", "avg", vgg19_file)
    assert weights.load_vgg("vgg19", "avg", vgg19_file) is first, "loaded once"
    assert weights.load_vgg("vgg19", "max", vgg19_file) is not first, "pooling is part of the key"
    net = cyclegan.load_generator(weights=tiny_file, device="cpu")
    assert cyclegan.load_generator(weights=tiny_file, device="cpu") is net
    assert isinstance(weights._CACHE, ModelCache) and isinstance(cyclegan._CACHE, ModelCache)
