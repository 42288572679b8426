"""The package version, in a module of its own: the modules that record it import this, not the package root
(whose lazy shortcuts import the surrogates, which record the version: an import cycle)."""

__version__ = "0.2.0"
