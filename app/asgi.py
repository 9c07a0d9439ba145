"""ASGI entry point for uvicorn: `uvicorn app.asgi:application`."""

from app.main import create_app

application = create_app()
