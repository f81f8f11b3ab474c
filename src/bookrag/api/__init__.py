"""The HTTP service: app factory, routes, schemas, protection, observability, widget, demo.

May import every subpackage below it; only the CLI imports it. `static/` is package data.
"""
