"""Consistent-decoder trainer (Bahat & Michaeli 2021): ``steps`` (the per-replica L1 and
WGAN-GP steps, :class:`trainers.decoder.steps.DecoderSteps`) and ``train`` (config → models →
loop; ``python -m trainers.decoder.train``)."""
