"""Perpetua: a non-custodial perpetual-futures exchange with a STARK-proven rollup."""

__version__ = "0.1.0"
