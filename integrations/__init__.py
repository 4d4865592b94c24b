"""Integrations of the huddle_client engine with HTTP clients and web frameworks.

Each submodule imports its framework lazily and names the extra to install when it is
missing; importing this package needs nothing beyond huddle_client itself.
"""
