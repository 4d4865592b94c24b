"""pytest plugin of huddle_client (registered through the ``pytest11`` entry point)."""
