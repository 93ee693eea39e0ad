"""SavedModel export with serving signatures (TF Serving: stock TF ops only), one export
convention for every model (:mod:`tfjpeg.serving.export`), and TF Serving request builders
(:mod:`tfjpeg.serving.client`).

The ``tf.Module`` wrappers (``EditorModule``, ``DecoderServingModule``) stay importable from
``tfjpeg.serving.editors`` / ``tfjpeg.serving.decoders``.
"""

from tfjpeg.serving.decoders import export_decoder, load_decoder
from tfjpeg.serving.editors import export_editor, load_keras_editor
from tfjpeg.serving.export import export_model, export_shipped

__all__ = [
    "export_decoder",
    "export_editor",
    "export_model",
    "export_shipped",
    "load_decoder",
    "load_keras_editor",
]
