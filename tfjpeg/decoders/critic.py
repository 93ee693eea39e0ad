"""The conditional WGAN critic of explorable decoding: the decoder's architecture, layer norm."""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from tfjpeg.decoders.consistent import ConvStack
from tfjpeg.decoders.geometry import chroma_factors, fit_plane
from tfjpeg.jpeg.blocks import pad_edges, plane_to_blocks
from tfjpeg.jpeg.dct import block_dct
from tfjpeg.jpeg.tables import component_table, validate_tables

__all__ = ["ConsistencyCritic"]

_SCALE = 1.0 / 32.0


def _grid(plane: tf.Tensor, hb: tf.Tensor, wb: tf.Tensor) -> tf.Tensor:
    """8×8 DCT of (N, H, W) samples on the (hb, wb) luma block grid → (N, hb, wb, 64)."""
    plane = fit_plane(plane, 8 * hb, 8 * wb)
    coef = block_dct(plane_to_blocks(plane - 128.0))
    return tf.reshape(coef, [tf.shape(coef)[0], hb, wb, 64]) * _SCALE


@keras.saving.register_keras_serializable(package="tfjpeg")
class ConsistencyCritic(keras.Model):
    """Critic φ(x̂, X_Q) for the WGAN-GP phase: DCT-domain conv stack conditioned on X_Q.

    The image (YCbCr planes, or gray) is moved to the 8×8 block DCT grid of the luma (64 channels
    per plane); the file's dequantized coefficients X_Q ⊙ M (chroma repeated onto the luma grid)
    are concatenated to every layer's input in the slot the decoder uses for z — the paper's
    conditional critic "concatenates the generator's input x_Q". Same stack as the decoder, with
    layer normalization instead of batch normalization and spectral normalization on every conv
    (Gulrajani et al. 2017; Miyato et al. 2018); the output map is averaged to one score.

    Call on a dict with ``"ycbcr"`` (N, H, W, 3 or 1, unclipped planes as the decoder gives them),
    ``"y"``, ``"cb"``, ``"cr"``, ``"tables"`` as for :class:`ConsistentDecoder`, and
    ``subsampling`` as a call argument. Returns (N,) scores.

    Args:
        width, depth: hidden channels and layers (paper: as the decoder, 10 layers).
        spectral: spectral normalization on the convolutions.

    Reference: Bahat & Michaeli 2021, §3.2 and appendix E.
    """

    def __init__(self, width: int = 320, depth: int = 10, spectral: bool = True, **kwargs: Any):
        super().__init__(**kwargs)
        self.width = width
        self.depth = depth
        self.spectral = bool(spectral)
        self.stack = ConvStack(width, depth, 1, "layer", 0.2, spectral, name="critic_stack")

    def call(self, inputs: dict[str, Any], training=None, subsampling: str = "420") -> tf.Tensor:
        planes = tf.cast(inputs["ycbcr"], tf.float32)
        y = tf.cast(inputs["y"], tf.float32)
        shape = tf.shape(y)
        n, hb, wb = shape[0], shape[1], shape[2]
        tables = validate_tables(inputs["tables"])
        tables = tf.broadcast_to(tables, tf.stack([n, tables.shape[1], 8, 8]))
        features = [_grid(planes[..., c], hb, wb) for c in range(planes.shape[-1])]
        t_y = component_table(tables, 0)
        cond = [tf.reshape(y, [n, hb, wb, 64]) * tf.reshape(t_y, [n, 1, 1, 64]) * _SCALE]
        logs = [tf.math.log(tf.reshape(t_y, [n, 64]))]
        if planes.shape[-1] == 3:
            fh, fv = chroma_factors(subsampling)
            for c, key in ((1, "cb"), (2, "cr")):
                t = component_table(tables, c)
                x = tf.cast(inputs[key], tf.float32)
                xs = tf.shape(x)
                x = tf.reshape(x, [n, xs[1], xs[2], 64]) * tf.reshape(t, [n, 1, 1, 64]) * _SCALE
                x = tf.repeat(tf.repeat(x, fv, axis=1), fh, axis=2)
                cond.append(pad_edges(x[:, :hb, :wb], hb, wb))
                logs.append(tf.math.log(tf.reshape(t, [n, 64])))
        scores = self.stack(
            tf.concat(features, -1),
            tf.concat(cond, -1),
            (tf.concat(logs, -1) - 3.0) / 2.0,
            training=training,
        )
        return tf.reduce_mean(scores, axis=[1, 2, 3])

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(width=self.width, depth=self.depth, spectral=self.spectral)
        return config
