"""The trader dashboard: static HTML/CSS/JS (``static/``) and ``mount_dashboard``, which serves them
and Plotly's JavaScript bundle (from the installed ``plotly`` package) on a Starlette/FastAPI app.

The page reads public data from the v3 REST endpoints and the ``/v3/ws`` WebSocket, and the demo
account's data and actions from the main job's routes (``/mainjob/...``). It imports nothing of the
API: whoever composes the app (``perpetua.mainjob``) mounts it.
"""

from perpetua.web.mount import STATIC_DIR, mount_dashboard, plotly_bundle

__all__ = ["STATIC_DIR", "mount_dashboard", "plotly_bundle"]
