"""The admin REST API (aiohttp) under ``/api/v1``."""
