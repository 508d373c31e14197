"""Inbound alert formats. Each adapter turns a payload into :class:`NormalizedAlert` values
or raises :class:`PayloadError` naming the offending field. Pure: no Flask, no database."""

from oncall.ingest.alert import SEVERITIES, NormalizedAlert, PayloadError

__all__ = ["SEVERITIES", "NormalizedAlert", "PayloadError"]
