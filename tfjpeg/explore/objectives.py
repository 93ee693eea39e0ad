"""The objectives f of the exploration tools (Bahat & Michaeli 2021 §5 and appendix B).

Each objective maps the decoded window images ``x`` (float32 (N, h, w, C) in [0, 255], C = 3 RGB
or 1 gray; N = 1 except for :func:`diverse`) and a dict of constant inputs to a scalar loss that
Adam minimizes over z. Every dict holds ``"mask"`` (1, h, w, 1), 1 inside the user's region, and
``"x0"`` (1, h, w, C), the window's image before the edit (x̂₀ of appendix B). Patch objectives
use partially overlapping 6×6 patches (appendix B, footnote 6).
"""

from __future__ import annotations

import tensorflow as tf

__all__ = [
    "PATCH",
    "classifier_input",
    "classifier_loss",
    "diverse",
    "luma",
    "magnitude",
    "mean_removed_patches",
    "patch_dictionary",
    "periodicity",
    "target_l1",
    "total_variation",
    "variance",
]

#: Side of the patches of the patch objectives (appendix B, footnote 6).
PATCH = 6
_EPS = 1e-6


def luma(x: tf.Tensor) -> tf.Tensor:
    """(N, h, w, C) RGB or gray → (N, h, w, 1) luma (JFIF weights)."""
    if x.shape[-1] == 1:
        return x
    return tf.reduce_sum(x * tf.constant([0.299, 0.587, 0.114]), axis=-1, keepdims=True)


def _masked_mean(values: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    """Σ w·v / Σ w over every axis (weights broadcast to values)."""
    weights = tf.broadcast_to(weights, tf.shape(values))
    return tf.reduce_sum(values * weights) / (tf.reduce_sum(weights) + _EPS)


def _patch_pool(x: tf.Tensor, stride: int) -> tf.Tensor:
    return tf.nn.avg_pool2d(x, PATCH, stride, "VALID")


def _patch_weights(mask: tf.Tensor, stride: int) -> tf.Tensor:
    """Weight of each patch: the fraction of it inside the region."""
    return _patch_pool(mask, stride)


def target_l1(x: tf.Tensor, inputs: dict[str, tf.Tensor]) -> tf.Tensor:
    """‖x̂ − x_target‖₁ in the region (appendix B.3): scribble, imprint, brightness, hue,
    saturation; ``inputs["target"]`` (1, h, w, C) is the desired content already projected onto
    the file's consistent set (eq. 2)."""
    return _masked_mean(tf.abs(x - inputs["target"]), inputs["mask"])


def variance(x: tf.Tensor, inputs: dict[str, tf.Tensor]) -> tf.Tensor:
    """Σ (Var(P(x̂)) − Var(P(x̂₀)) ∓ δ)² over the region's patches (appendix B.1), on the luma;
    ``inputs["delta"]`` is the signed δ (gray levels²), the target clipped at 0."""
    stride = 2

    def patch_var(img):
        y = luma(img)
        return _patch_pool(tf.square(y), stride) - tf.square(_patch_pool(y, stride))

    target = tf.nn.relu(patch_var(inputs["x0"]) + inputs["delta"])
    weights = _patch_weights(inputs["mask"], stride)
    # per-patch std units keep the gradient's scale independent of the image's contrast
    return _masked_mean(tf.square(patch_var(x) - target) / (target + 100.0), weights)


def total_variation(x: tf.Tensor, inputs: dict[str, tf.Tensor]) -> tf.Tensor:
    """± TV(x̂) in the region: the absolute differences of every pixel and its 8 neighbours
    (appendix B.2); ``inputs["direction"]`` −1 smooths (the paper's tool), +1 roughens."""
    mask = inputs["mask"]
    total, count = 0.0, 0.0
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        h, w = tf.shape(x)[1], tf.shape(x)[2]
        a = x[:, : h - dy, max(0, -dx) : w - max(0, dx)]
        b = x[:, dy:, max(0, dx) : w - max(0, -dx)]
        ma = mask[:, : h - dy, max(0, -dx) : w - max(0, dx)]
        mb = mask[:, dy:, max(0, dx) : w - max(0, -dx)]
        pair = ma * mb
        total += tf.reduce_sum(tf.abs(a - b) * pair)
        count += tf.reduce_sum(pair) * tf.cast(tf.shape(x)[-1], tf.float32)
    return inputs["direction"] * total / (count + _EPS)


def mean_removed_patches(x: tf.Tensor, stride: int) -> tf.Tensor:
    """(N, h, w, C) → (N, rows, cols, 36·C) 6×6 patches with their mean (per channel) removed."""
    c = x.shape[-1]
    p = tf.image.extract_patches(
        x, [1, PATCH, PATCH, 1], [1, stride, stride, 1], [1, 1, 1, 1], "VALID"
    )
    shape = tf.shape(p)
    p = tf.reshape(p, [shape[0], shape[1], shape[2], PATCH * PATCH, c])
    p = p - tf.reduce_mean(p, axis=3, keepdims=True)
    return tf.reshape(p, [shape[0], shape[1], shape[2], PATCH * PATCH * c])


def magnitude(x: tf.Tensor, inputs: dict[str, tf.Tensor]) -> tf.Tensor:
    """Σ ‖P̃(x̂) − (1 ± δ) P̃(x̂₀)‖² over the region's patches (appendix B.5): amplify or
    attenuate the signal, keeping its structure; ``inputs["gain"]`` = 1 ± δ."""
    stride = 2
    diff = mean_removed_patches(x, stride) - inputs["gain"] * mean_removed_patches(
        inputs["x0"], stride
    )
    weights = _patch_weights(inputs["mask"], stride)
    return _masked_mean(tf.reduce_mean(tf.square(diff), -1, keepdims=True), weights)


def patch_dictionary(x: tf.Tensor, inputs: dict[str, tf.Tensor]) -> tf.Tensor:
    """Distance of every target patch to its nearest source patch (appendix B.4), means
    removed; with ``inputs["normalize"]`` = 1 the patches' variance is normalized too and a
    penalty keeps each target patch's variance ("ignoring patches' variance").

    ``inputs["source"]`` (S, 36·C) are the source patches (prepared the same way).
    """
    stride = 4  # the paper's target stride
    normalize = inputs["normalize"]
    p = mean_removed_patches(x, stride)
    std = tf.sqrt(tf.reduce_mean(tf.square(p), -1, keepdims=True) + 1.0)
    p = normalize * p / std + (1.0 - normalize) * p
    flat = tf.reshape(p, [-1, tf.shape(p)[-1]])
    src = inputs["source"]
    d2 = (
        tf.reduce_sum(tf.square(flat), -1, keepdims=True)
        - 2.0 * tf.matmul(flat, src, transpose_b=True)
        + tf.reduce_sum(tf.square(src), -1)[None]
    )
    nearest = tf.reshape(tf.reduce_min(d2, -1), tf.shape(p)[:3])[..., None]
    weights = _patch_weights(inputs["mask"], stride)
    match = _masked_mean(nearest / tf.cast(tf.shape(src)[-1], tf.float32), weights)
    std0 = tf.sqrt(
        tf.reduce_mean(tf.square(mean_removed_patches(inputs["x0"], stride)), -1, keepdims=True)
    )
    keep = _masked_mean(tf.square(std - tf.sqrt(tf.square(std0) + 1.0)), weights)
    return match + normalize * keep


def periodicity(x: tf.Tensor, inputs: dict[str, tf.Tensor]) -> tf.Tensor:
    """‖x̂ − x̂ shifted by one period‖₁ in the region, per direction (appendix B.6);
    ``inputs["periods"]`` int32 (2,) = (vertical, horizontal) period in pixels, 0 for none."""
    mask = inputs["mask"]
    total = 0.0
    for axis in (1, 2):
        period = inputs["periods"][axis - 1]
        shifted = tf.roll(x, period, axis)
        both = mask * tf.roll(mask, period, axis)
        used = tf.cast(period > 0, tf.float32)
        total += used * _masked_mean(tf.abs(x - shifted), both)
    return total


def diverse(x: tf.Tensor, inputs: dict[str, tf.Tensor]) -> tf.Tensor:
    """− mean pairwise L1 distance of the N decodings in the region (appendix B.7), plus
    ``inputs["closeness"]`` × their mean L1 distance to x̂₀ ("constraining distance to the
    current image")."""
    mask = inputs["mask"]
    n = tf.shape(x)[0]
    diffs = tf.abs(x[:, None] - x[None])  # (N, N, h, w, C)
    pairwise = (
        _masked_mean(diffs, mask[None])
        * tf.cast(n, tf.float32)
        / tf.cast(tf.maximum(n - 1, 1), tf.float32)
    )
    close = _masked_mean(tf.abs(x - inputs["x0"]), mask)
    return -pairwise + inputs["closeness"] * close


def classifier_input(classifier, x: tf.Tensor, box, scale) -> tf.Tensor:
    """What a Keras classifier sees of a region: the bounding box ``box`` (y0, x0, y1, x1) of
    the images ``x`` (N, h, w, C), in the classifier's channels (luma for one channel), resized
    (antialiased) to its input size, times ``scale``."""
    crop = x[:, box[0] : box[2], box[1] : box[3]]
    height, width, channels = classifier.input_shape[1:4]
    crop = luma(crop) if channels == 1 else crop
    if channels == 3 and crop.shape[-1] == 1:
        crop = tf.repeat(crop, 3, axis=-1)
    return tf.image.resize(crop, [height, width], antialias=True) * scale


def classifier_loss(
    classifier, x: tf.Tensor, inputs: dict[str, tf.Tensor], shift: int = 0
) -> tf.Tensor:
    """− log p(target | region) of a Keras classifier (appendix B.8) on
    :func:`classifier_input` of the region's box ``inputs["box"]`` (window coordinates) and
    ``inputs["scale"]``; the classifier's outputs are read as logits.

    ``shift`` > 0 averages it over the box and the box moved ``shift`` pixels up, down, left
    and right (the window's edges mirrored), so that one pixel-exact view is not all that
    counts. Measured with an independent judge (examples/explore_digit.py ``--judge``, gray q5,
    32-px digits, the clean-trained classifier): 88.3 % read as the target by the guide, 8.3 %
    by the judge, against 91.7 / 6.7 % without it; an adversarially trained classifier (the
    shipped one) is what makes the results readable as the target by other classifiers."""
    if shift <= 0:
        views = [classifier_input(classifier, x, inputs["box"], inputs["scale"])]
    else:
        padded = tf.pad(x, [[0, 0], [shift, shift], [shift, shift], [0, 0]], "SYMMETRIC")
        y0, x0, y1, x1 = (inputs["box"][i] + shift for i in range(4))
        views = [
            classifier_input(
                classifier, padded, (y0 + dy, x0 + dx, y1 + dy, x1 + dx), inputs["scale"]
            )
            for dy, dx in ((0, 0), (-shift, 0), (shift, 0), (0, -shift), (0, shift))
        ]
    logits = classifier(tf.concat(views, axis=0))
    log_p = tf.nn.log_softmax(logits, axis=-1)
    return -tf.reduce_mean(tf.gather(log_p, inputs["target"], axis=-1))
