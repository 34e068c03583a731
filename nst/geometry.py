"""The one geometry type: a picture's width and height, and its ``size``.

``size`` means one thing in every front end and every module: the long side of a picture, in
pixels (the page's "Output size", the API's and the CLI's ``size``, :attr:`Settings.size`). A
:class:`Canvas` is the whole shape: (width, height) in that order, as PIL counts, with the
(height, width) view torch's shapes need as :attr:`Canvas.hw`, so nobody swaps them by hand.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class Canvas(NamedTuple):
    """A picture's shape in pixels, (width, height); ``size`` is its long side."""

    width: int
    height: int

    @property
    def size(self) -> int:
        """The long side: what ``size`` means everywhere."""
        return max(self.width, self.height)

    @property
    def short(self) -> int:
        return min(self.width, self.height)

    @property
    def hw(self) -> tuple[int, int]:
        """(height, width): the order of a tensor's last two dimensions."""
        return self.height, self.width

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def aspect(self) -> float:
        """Long side over short side (1 for a square)."""
        return self.size / self.short

    @classmethod
    def of(cls, picture: Any) -> Canvas:
        """The canvas of a PIL image (its ``size``) or of a tensor or array shaped (..., H, W)."""
        if hasattr(picture, "shape"):
            return cls(int(picture.shape[-1]), int(picture.shape[-2]))
        width, height = picture.size
        return cls(int(width), int(height))

    def fit(self, size: int) -> Canvas:
        """This shape scaled so its long side is ``size`` (larger or smaller), the aspect kept, each side >= 1."""
        scale = size / self.size
        return Canvas(max(1, round(self.width * scale)), max(1, round(self.height * scale)))
