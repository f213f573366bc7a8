"""Benchmarks and maintenance scripts, run from a checkout.

Nothing here is installed with panko_like: run a tool from the top of
the repository with ``python -m tools.<name>`` (or through its tox
environment). The tools use the storage drivers through their public
contract only (``panko_like.storage``), so that nothing they do depends
on how a driver is built inside.
"""
