"""Threshold rules: which alerts matter, how much, and to whom.

``model`` parses a rule, ``evaluate`` matches and evaluates it (pure, explicit ``now``),
``templates`` renders summaries and dedup keys, ``store`` caches and queries, ``route`` is
intake's hook, and ``tick`` re-evaluates windowed rules on a beat.
"""

from oncall.rules.model import Rule, RuleError, parse

__all__ = ["Rule", "RuleError", "parse"]
