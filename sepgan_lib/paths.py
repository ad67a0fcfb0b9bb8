"""Where the repository's own files are: the checkout this library runs from.

A pip-installed library (as on Colab) has no checkout around it; callers check that a file
they want (a recorded result, the book's sources) exists before they read it.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path("experiments") / "results"  # the recorded experiments, relative to ROOT
