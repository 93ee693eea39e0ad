"""Installs tfjpeg: differentiable, libjpeg-faithful JPEG in TensorFlow/Keras."""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent

setup(
    name="tfjpeg",
    version="0.1.0",
    description=(
        "Make JPEG better on both ends: learned pre-editing before a standard encoder and "
        "consistent decoding of real JPEG files, on a differentiable JPEG that matches libjpeg."
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10,<3.14",
    # The shipped weights: the repository's saved_models/ installs as the data-only package
    # tfjpeg._saved_models (found by tfjpeg.models.saved_models_root from any folder).
    packages=[*find_packages(include=["tfjpeg", "tfjpeg.*"]), "tfjpeg._saved_models"],
    package_dir={"tfjpeg._saved_models": "saved_models"},
    include_package_data=True,
    package_data={
        "tfjpeg": ["py.typed"],
        "tfjpeg.losses": ["data/*.npz", "data/NOTICE"],
        "tfjpeg.cli.explore_app": ["static/*.html", "static/*.js", "static/*.css"],
        "tfjpeg._saved_models": [
            "README.md",
            "models.config",
            "batching_parameters.txt",
            "*/*/MODEL_CARD.md",
            "*/*/*.pb",
            "*/*/*.json",
            "*/*/*.h5",
            "*/*/variables/*",
            "*/*/assets/*",
            "*/*/assets.extra/*",
        ],
    },
    install_requires=[
        "tensorflow>=2.16",
        "keras>=3",
        "numpy>=1.23",
        "pillow>=10.1",
        "jpeglib>=1.0.2",
    ],
    extras_require={
        # tfjpeg explore's local web page (Starlette app served by uvicorn)
        "explore": ["starlette>=0.37", "uvicorn>=0.29"],
        # httpx: Starlette's TestClient; playwright: the page tested in a real browser;
        # pytest-xdist: .ci/run's passes on every core (a file's tests stay on one worker)
        "test": [
            "pytest>=7",
            "pytest-xdist>=3.5",
            "ruff>=0.4",
            "starlette>=0.37",
            "uvicorn>=0.29",
            "httpx>=0.27",
            "playwright>=1.40",
        ],
        "bench": ["torch>=2.13", "kornia>=0.9"],
    },
    entry_points={"console_scripts": ["tfjpeg=tfjpeg.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Topic :: Multimedia :: Graphics :: Graphics Conversion",
        "Topic :: Scientific/Engineering :: Image Processing",
    ],
)
