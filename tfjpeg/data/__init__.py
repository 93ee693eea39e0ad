"""Data for tfjpeg: image folders (Kodak, training sets) and the synthetic codec test chart.

Importing this package does not import TensorFlow.
"""

from tfjpeg.data.folders import dataset_dir, iter_images, list_images, load_image
from tfjpeg.data.synthetic import make_test_chart

__all__ = ["dataset_dir", "iter_images", "list_images", "load_image", "make_test_chart"]
