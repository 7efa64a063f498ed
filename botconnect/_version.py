"""The distribution's version (hatch reads it for the wheel; both packages export it as ``__version__``).

0.2.0: pre-1.0 semantic versioning, where a minor bump carries new features and the few deliberate breaking
changes listed in CHANGELOG.md (0.1.0 was the first cut of the three clients). 1.0 waits for the API to settle.
"""

__version__ = "0.2.0"
