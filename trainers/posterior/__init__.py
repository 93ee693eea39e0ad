"""Trainer of the posterior sampler (Man et al. 2023): ``python -m trainers.posterior.train``."""
