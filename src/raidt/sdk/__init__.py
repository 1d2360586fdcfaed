"""The Python SDK (DESIGN 6.3): recorder, spool, drainer and the OpenAI wrapper.

Everything here is private; the public names are re-exported by :mod:`raidt`.
"""
