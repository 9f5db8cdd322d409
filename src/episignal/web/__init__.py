"""The web app (FastAPI): card pages and API, verifier, health-authority API, SMS webhook."""
