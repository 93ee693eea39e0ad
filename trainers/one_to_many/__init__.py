"""One-to-many network trainer (Guo & Chao 2017): ``steps`` (the per-replica discriminator and
proposal updates, :class:`trainers.one_to_many.steps.OneToManySteps`), ``train`` (config →
models → loop; ``python -m trainers.one_to_many.train``) and ``validate`` (the validation
split at one quality: single samples, the spread over seeds, consistency)."""
