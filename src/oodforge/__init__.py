"""oodforge: anomaly (out-of-distribution) segmentation toolkit for driving scenes.

Importing the package does no I/O and imports no heavy optional dependency.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
