"""The product surface: ``compress`` (pre-edit + encode) and ``decode`` (consistent decoding).

Both run the same core computation that the shipped SavedModels serve (docs/ARCHITECTURE.md,
"The served artefact is the product"); ``tfjpeg.compress`` and ``tfjpeg.decode`` are these.
"""
