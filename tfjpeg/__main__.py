"""``python -m tfjpeg``: the same as the ``tfjpeg`` console script."""

import sys

from tfjpeg.cli import main

if __name__ == "__main__":
    sys.exit(main())
