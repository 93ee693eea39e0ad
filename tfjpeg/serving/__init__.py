"""SavedModel export with serving signatures (TF Serving: stock TF ops only).

The ``tf.Module`` wrappers (``EditorModule``, ``DecoderServingModule``) stay importable from
``tfjpeg.serving.editors`` / ``tfjpeg.serving.decoders``.
"""

from tfjpeg.serving.decoders import export_decoder, load_decoder
from tfjpeg.serving.editors import export_editor, load_keras_editor

__all__ = ["export_decoder", "export_editor", "load_decoder", "load_keras_editor"]
