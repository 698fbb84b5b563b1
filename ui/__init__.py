"""The operators' dashboard: server-rendered pages at ``/ui`` (Jinja2, htmx, Server-Sent Events)."""
