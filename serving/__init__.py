"""The HTTP API of the platform: CRUD, search and recommendations over the ``app`` and ``serving``
schemas. ``serving.app:app`` is the ASGI application; ``python -m serving`` runs it with uvicorn.
"""
