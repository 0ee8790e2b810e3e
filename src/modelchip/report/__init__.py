"""Presentation helpers: units for display, tables, charts, HTML (a leaf layer)."""
