"""Pre-editing networks T(z) that make an image cheaper to JPEG-compress (Talebi et al. 2020).

Every editor is a Keras model called as ``editor(images, quality=..., training=...)`` on float
RGB (N, H, W, 3) in [0, 255] of any size, returning a dict whose ``"edited"`` entry is the image
to hand to a standard JPEG encoder; :func:`edit_and_encode` runs one on a whole image and hands
the result to libjpeg-turbo or mozjpeg. Building blocks (``ReflectConv2D``, ``reflect_pad``,
``pad_to_multiple``, ``bilinear_sample``, ``averaged_sampling_grid``) stay importable from their
modules.
"""

from tfjpeg.editors.cascade import CascadeEditor
from tfjpeg.editors.inference import edit_and_encode, edit_image
from tfjpeg.editors.smoothing import SmoothingEditor
from tfjpeg.editors.spatial_transformer import SpatialTransformerEditor

__all__ = [
    "EDITOR_CLASSES",
    "CascadeEditor",
    "SmoothingEditor",
    "SpatialTransformerEditor",
    "edit_and_encode",
    "edit_image",
]

#: Editor kind (as in configs and the CLI) → class.
EDITOR_CLASSES = {
    "smoothing": SmoothingEditor,
    "stn": SpatialTransformerEditor,
    "cascade": CascadeEditor,
}
