"""vaeframe's version, in a module of its own so that any part of the core can read it."""

__version__ = "0.1.0"
