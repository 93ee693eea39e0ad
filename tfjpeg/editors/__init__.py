"""Pre-editing networks T(z) that make an image cheaper to JPEG-compress (Talebi et al. 2020).

Every editor is a Keras model called as ``editor(images, quality=..., training=...)`` on float
RGB (N, H, W, 3) in [0, 255] of any size, returning a dict whose ``"edited"`` entry is the image
to hand to a standard JPEG encoder.
"""

from tfjpeg.editors.cascade import CascadeEditor
from tfjpeg.editors.padding import pad_to_multiple, reflect_pad
from tfjpeg.editors.sampler import bilinear_sample
from tfjpeg.editors.smoothing import ReflectConv2D, SmoothingEditor
from tfjpeg.editors.spatial_transformer import SpatialTransformerEditor, averaged_sampling_grid

__all__ = [
    "EDITOR_CLASSES",
    "CascadeEditor",
    "ReflectConv2D",
    "SmoothingEditor",
    "SpatialTransformerEditor",
    "averaged_sampling_grid",
    "bilinear_sample",
    "pad_to_multiple",
    "reflect_pad",
]

#: Editor kind (as in configs and the CLI) → class.
EDITOR_CLASSES = {
    "smoothing": SmoothingEditor,
    "stn": SpatialTransformerEditor,
    "cascade": CascadeEditor,
}
