"""Capture adapters of the server: the OpenAI-compatible gateway and OTLP ingest.

Each maps what arrives (an OpenAI exchange, OTLP spans and log records) to DESIGN 6.1
events and appends them through :mod:`raidt.services.capture`; the pure mappings live in
modules without I/O (``gateway_map``, ``otlp_map``) so they are tested without a server.
"""
