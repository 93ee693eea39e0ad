"""Smoothing followed by the spatial transformer, trained jointly (Talebi et al. 2020, §3.2, §5)."""

from __future__ import annotations

from typing import Any

import keras

from tfjpeg.editors.smoothing import SmoothingEditor
from tfjpeg.editors.spatial_transformer import SpatialTransformerEditor

__all__ = ["CascadeEditor"]


@keras.saving.register_keras_serializable(package="tfjpeg")
class CascadeEditor(keras.Model):
    """The cascade editor: ``SmoothingEditor`` then ``SpatialTransformerEditor``.

    "While the smoothing allows for less blockiness artifacts, the STN leads to texture
    preservation" (§3.2.2); both are fine-tuned jointly (§5). Each stage gets the same JPEG quality.

    ``editor(images, quality=None, noise_sigma=None, training=False)`` returns a dict:
    ``"edited"`` (the warped smoothed image), ``"smoothed"`` (after the first stage),
    ``"displacement"`` and ``"affine"`` (of the second stage).

    Args:
        smoothing: constructor arguments of the :class:`SmoothingEditor` (a dict; {} = defaults).
        spatial_transformer: constructor arguments of the :class:`SpatialTransformerEditor`.

    Example:
        >>> editor = CascadeEditor(smoothing={"filters": 16}, spatial_transformer={"filters": 16})
        >>> sorted(editor(np.zeros((1, 16, 16, 3), "float32"), quality=20))
        ['affine', 'displacement', 'edited', 'smoothed']

    Reference: Talebi et al. 2020, "Better compression with deep pre-editing", §3.2 and §5.
    """

    def __init__(
        self,
        smoothing: dict[str, Any] | None = None,
        spatial_transformer: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        for name, value in (("smoothing", smoothing), ("spatial_transformer", spatial_transformer)):
            if value is not None and not isinstance(value, dict):
                raise ValueError(
                    f"{name} must be a dict of constructor arguments. Received: {name}={value!r}"
                )
        self.smoothing = dict(smoothing or {})
        self.spatial_transformer = dict(spatial_transformer or {})
        self.smoother = SmoothingEditor(**self.smoothing, name="smoother")
        self.warper = SpatialTransformerEditor(**self.spatial_transformer, name="warper")

    def call(
        self,
        images: Any,
        quality: Any = None,
        noise_sigma: Any = None,
        training: bool | None = None,
    ) -> dict[str, Any]:
        smoothed = self.smoother(
            images, quality=quality, noise_sigma=noise_sigma, training=training
        )["edited"]
        warped = self.warper(smoothed, quality=quality, training=training)
        return {
            "edited": warped["edited"],
            "smoothed": smoothed,
            "displacement": warped["displacement"],
            "affine": warped["affine"],
        }

    @classmethod
    def from_preset(cls, preset: str) -> CascadeEditor:
        """The shipped model ``preset`` (a registry name, :mod:`tfjpeg.models`) with its
        weights; cached, so callers share one instance.

        Example:
            >>> model = CascadeEditor.from_preset("cascade")  # doctest: +SKIP
        """
        from tfjpeg.models.presets import load

        return load(preset, cls=cls)

    def get_config(self) -> dict[str, Any]:
        return {
            "smoothing": dict(self.smoothing),
            "spatial_transformer": dict(self.spatial_transformer),
        }
