"""The HTTP server of ``raidt serve``: one ASGI app (see :func:`raidt.api.app.create_app`).

Nothing is imported here, so importing ``raidt.api`` stays cheap.
"""
