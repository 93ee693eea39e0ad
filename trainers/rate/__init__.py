"""Rate-predictor fit: ``fit`` (``python -m trainers.rate.fit``) encodes random crops with the
real encoders and fits ``tfjpeg.rate.RatePredictor``'s parameters; its gradient-based fits run
on the shared loop (``trainers.common``)."""
