"""SavedModel export with serving signatures (TF Serving: stock TF ops only), one export
convention for every model (:mod:`tfjpeg.serving.export`), and TF Serving request builders
(:mod:`tfjpeg.serving.client`)."""

from tfjpeg.serving.editors import EditorModule, export_editor, load_keras_editor
from tfjpeg.serving.export import export_model, export_shipped, load_keras_model, save_keras_model

__all__ = [
    "EditorModule",
    "export_editor",
    "export_model",
    "export_shipped",
    "load_keras_editor",
    "load_keras_model",
    "save_keras_model",
]
