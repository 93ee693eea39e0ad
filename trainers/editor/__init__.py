"""Pre-editing trainer (Talebi et al. 2020): ``steps`` (the per-replica pretrain and eq. (5)
steps, :class:`trainers.editor.steps.EditorSteps`) and ``train`` (config → models → loop, export;
``python -m trainers.editor.train``)."""
