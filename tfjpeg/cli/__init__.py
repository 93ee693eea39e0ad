"""The ``tfjpeg`` command line, one module per command (``demo``, ``compress``, ``decode``).

``tfjpeg`` (console script) and ``python -m tfjpeg`` both run :func:`main`.
"""

from tfjpeg.cli.main import EXIT_OK, EXIT_USAGE, build_parser, main

__all__ = ["EXIT_OK", "EXIT_USAGE", "build_parser", "main"]
