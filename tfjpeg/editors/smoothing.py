"""The smoothing editor of deep pre-editing (Talebi et al. 2020, §3.2.1, Fig. 3)."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from tfjpeg._checks import check_positive_int, check_quality
from tfjpeg.editors.conditioning import constant_channel, per_image
from tfjpeg.editors.padding import crop_to, pad_to_multiple, reflect_pad

__all__ = ["SmoothingEditor"]


def _check_positive_int(name: str, value: Any) -> None:
    check_positive_int(value, name)


@keras.saving.register_keras_serializable(package="tfjpeg")
class ReflectConv2D(keras.layers.Layer):
    """A stride-s convolution preceded by reflect ("symmetric") padding, so borders get no
    zero-padding artefacts (§3.2.1). Output size is ceil(H / strides)."""

    def __init__(
        self,
        filters: int,
        kernel_size: int = 3,
        strides: int = 1,
        zero_init: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        _check_positive_int("filters", filters)
        _check_positive_int("kernel_size", kernel_size)
        _check_positive_int("strides", strides)
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.zero_init = zero_init
        init = "zeros" if zero_init else "glorot_uniform"
        self.conv = keras.layers.Conv2D(
            filters, kernel_size, strides=strides, padding="valid", kernel_initializer=init
        )

    def build(self, input_shape: Any) -> None:
        k = self.kernel_size
        self.conv.build((input_shape[0], None, None, input_shape[-1]))
        del k

    def call(self, x: Any) -> Any:
        total = self.kernel_size - 1
        before, after = total // 2, total - total // 2
        if self.strides > 1:  # make (H + pad - k) divisible by the stride: ceil(H / s) outputs
            shape = ops.shape(x)
            extra_h = (self.strides - shape[1] % self.strides) % self.strides
            extra_w = (self.strides - shape[2] % self.strides) % self.strides
            x = reflect_pad(x, before, after + extra_h, before, after + extra_w)
        elif total:
            x = reflect_pad(x, before, after, before, after)
        return self.conv(x)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (*input_shape[:3], self.filters)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            strides=self.strides,
            zero_init=self.zero_init,
        )
        return config


@keras.saving.register_keras_serializable(package="tfjpeg")
class SmoothingEditor(keras.Model):
    """Residual smoothing CNN T(z) (SRResNet-like) that edits an image before JPEG.

    Architecture (§3.2.1): reflect padding before every 3×3 convolution; a head convolution with
    LeakyReLU; ``num_blocks`` residual blocks (conv-BN-LeakyReLU-conv-BN + skip); a conv-BN with a
    long skip; a final convolution to 3 channels whose output, scaled to pixels, is added to the
    input (the last convolution starts at zero, so an untrained editor is the identity). The input
    is RGB/255 − 0.5 plus two constant channels: the noise σ of the pre-training augmentation (§5;
    0 at inference) and the JPEG quality / 100.

    ``editor(images, quality=None, noise_sigma=None, training=False)`` takes float RGB (N, H, W, 3)
    in [0, 255], any H and W (reflect-padded to a multiple of 8 and cropped back), and returns a
    dict with ``"edited"`` (float32, clipped to [0, 255]) and ``"residual"`` (edited − input,
    before clipping).

    Args:
        filters: feature maps (paper: 64).
        num_blocks: residual blocks r (paper: 2).
        kernel_size: convolution size (paper: 3).
        leaky_slope: LeakyReLU negative slope.
        quality: default JPEG quality when the call gives none.
        noise_sigma: default noise σ channel when the call gives none (0: "clean input").
        bn_momentum: batch-norm moving-average momentum.

    Example:
        >>> editor = SmoothingEditor(filters=16)
        >>> editor(np.zeros((1, 30, 41, 3), "float32"), quality=20)["edited"].shape
        TensorShape([1, 30, 41, 3])

    Reference: Talebi et al. 2020, "Better compression with deep pre-editing", §3.2.1 and §5;
    Ledig et al. 2017 (SRResNet).
    """

    def __init__(
        self,
        filters: int = 64,
        num_blocks: int = 2,
        kernel_size: int = 3,
        leaky_slope: float = 0.2,
        quality: float = 20.0,
        noise_sigma: float = 0.0,
        bn_momentum: float = 0.9,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        _check_positive_int("filters", filters)
        _check_positive_int("kernel_size", kernel_size)
        if isinstance(num_blocks, bool) or not isinstance(num_blocks, int) or num_blocks < 0:
            raise ValueError(
                f"num_blocks must be a non-negative integer. Received: num_blocks={num_blocks!r}"
            )
        if not 0.0 <= float(leaky_slope) < 1.0:
            raise ValueError(f"leaky_slope must be in [0, 1). Received: leaky_slope={leaky_slope}")
        check_quality(quality, integer=False)
        if not 0.0 <= float(noise_sigma) <= 1.0:
            raise ValueError(f"noise_sigma must be in [0, 1]. Received: noise_sigma={noise_sigma}")
        if not 0.0 < float(bn_momentum) < 1.0:
            raise ValueError(f"bn_momentum must be in (0, 1). Received: bn_momentum={bn_momentum}")
        self.filters = filters
        self.num_blocks = num_blocks
        self.kernel_size = kernel_size
        self.leaky_slope = float(leaky_slope)
        self.quality = float(quality)
        self.noise_sigma = float(noise_sigma)
        self.bn_momentum = float(bn_momentum)

        def bn(name: str) -> keras.layers.BatchNormalization:
            return keras.layers.BatchNormalization(momentum=self.bn_momentum, name=name)

        self.head = ReflectConv2D(filters, kernel_size, name="head")
        self.blocks = [
            (
                ReflectConv2D(filters, kernel_size, name=f"block{i}_conv1"),
                bn(f"block{i}_bn1"),
                ReflectConv2D(filters, kernel_size, name=f"block{i}_conv2"),
                bn(f"block{i}_bn2"),
            )
            for i in range(num_blocks)
        ]
        # tf.train.Checkpoint follows attributes, not Keras' tracked lists: expose every layer.
        for i, block in enumerate(self.blocks):
            for part, layer in zip(("conv1", "bn1", "conv2", "bn2"), block, strict=True):
                setattr(self, f"block{i}_{part}", layer)
        self.body_conv = ReflectConv2D(filters, kernel_size, name="body_conv")
        self.body_bn = bn("body_bn")
        self.tail = ReflectConv2D(3, kernel_size, zero_init=True, name="tail")

    def _act(self, x: Any) -> Any:
        return ops.leaky_relu(x, negative_slope=self.leaky_slope)

    def call(
        self,
        images: Any,
        quality: Any = None,
        noise_sigma: Any = None,
        training: bool | None = None,
    ) -> dict[str, Any]:
        images = ops.cast(images, "float32")
        batch = ops.shape(images)[0]
        padded, height, width = pad_to_multiple(images, 8)
        x = padded / 255.0 - 0.5
        q = per_image(quality, batch, self.quality) / 100.0
        s = per_image(noise_sigma, batch, self.noise_sigma)
        x = ops.concatenate([x, constant_channel(s, x), constant_channel(q, x)], axis=-1)
        x = head = self._act(self.head(x))
        for conv1, bn1, conv2, bn2 in self.blocks:
            y = self._act(bn1(conv1(x), training=training))
            x = x + bn2(conv2(y), training=training)
        x = head + self.body_bn(self.body_conv(x), training=training)
        residual = crop_to(self.tail(x), height, width) * 255.0
        return {"edited": ops.clip(images + residual, 0.0, 255.0), "residual": residual}

    @classmethod
    def from_preset(cls, preset: str) -> SmoothingEditor:
        """The shipped model ``preset`` (a registry name, :mod:`tfjpeg.models`) with its
        weights; cached, so callers share one instance.

        Example:
            >>> model = SmoothingEditor.from_preset("smoothing")  # doctest: +SKIP
        """
        from tfjpeg.models.presets import load

        return load(preset, cls=cls)

    def get_config(self) -> dict[str, Any]:
        return {
            "filters": self.filters,
            "num_blocks": self.num_blocks,
            "kernel_size": self.kernel_size,
            "leaky_slope": self.leaky_slope,
            "quality": self.quality,
            "noise_sigma": self.noise_sigma,
            "bn_momentum": self.bn_momentum,
        }
