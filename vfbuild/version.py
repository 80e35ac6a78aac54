"""vfbuild's version, at the floor of the house (the code signature reads it)."""

__version__ = "0.1.0"
