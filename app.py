"""Gradio app (placeholder until the app lands): run ``python -m nst --help`` meanwhile."""
