"""``python -m huddle_client`` runs the ``huddle`` command."""

import sys

from .cli import main

sys.exit(main())
