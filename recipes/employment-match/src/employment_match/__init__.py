"""employment-match: skills -> ranked ESCO-style occupations (see the recipe's README.md)."""

__version__ = "2.0"
