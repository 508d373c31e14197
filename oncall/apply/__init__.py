"""Config as code: ``oncall apply`` reads ``rules/`` and ``schedules/`` and makes the database
match them, in one transaction, idempotently; ``--dry-run`` shows the diff and changes nothing.
"""

from oncall.apply.loader import ConfigError, load_tree
from oncall.apply.sync import Change, apply_config

__all__ = ["Change", "ConfigError", "apply_config", "load_tree"]
