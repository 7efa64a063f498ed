"""Local stand-ins for the Bot Framework services, for samples, tests and offline development.

Nothing in ``botconnect`` imports this package; its modules need the optional server dependencies
(starlette, uvicorn, wsproto).
"""
