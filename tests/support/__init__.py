"""Helpers shared by the tests, imported one way: ``from support.<module> import ...``.

* :mod:`support.pictures`: small deterministic pictures and reading results back;
* :mod:`support.odd_images`: odd but valid files (16-bit, CMYK, rotated...) and damaged ones;
* :mod:`support.painters`: tiny seeded CycleGAN generators and a fake Hugging Face cache;
* :mod:`support.http`: a client below gradio_client, and the app in a subprocess;
* :mod:`support.page`: the page's controls by name, at their starting values;
* :mod:`support.shared`: where ``../shared`` (real weights and paintings) is.
"""
