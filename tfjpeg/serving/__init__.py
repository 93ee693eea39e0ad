"""SavedModel export with serving signatures (TF Serving: stock TF ops only)."""

from tfjpeg.serving.editors import EditorModule, export_editor, load_keras_editor

__all__ = ["EditorModule", "export_editor", "load_keras_editor"]
