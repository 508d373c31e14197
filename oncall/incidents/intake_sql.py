"""The intake's statements (``oncall.incidents.intake`` runs them): one per operation per
dialect. Firing alerts: on PostgreSQL ``TRIGGER_PG`` stores any number of them in one
statement, and ``TRIGGER_ONE_PG`` a lone one (a benchmark showed the batch statement cost a
lone alert 9 %: ``bench/README.md``); on SQLite ``OPEN``, ``FIND``, ``STORE`` and the
timeline entry, alert by alert. Resolving and acknowledging by key are one statement each on
both."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String, bindparam, column, text

from oncall import db
from oncall.models import PolicyJSON, UTCDateTime
from oncall.paging import wake_listener

_TYPES: dict[str, Any] = {"now": UTCDateTime(), "labels": JSON(), "raw": JSON(),
                          "policy": PolicyJSON()}


def _typed(sql: str) -> Any:
    """A text statement whose time and JSON parameters are converted like the columns'.
    Those that return rows also name their columns (``.columns``): SQLAlchemy then builds
    the result's metadata once, when it compiles the statement, instead of from the
    cursor's description on every execution (``bench/core_cost.py``: about 70 Python calls
    an alert, 5-7 % of a web worker's CPU instructions for a lone alert)."""
    stmt = text(sql)
    return stmt.bindparams(*(bindparam(name, type_=type_) for name, type_ in _TYPES.items()
                             if f":{name}" in sql))


# The alert keeps what its sender said; the incident takes the matching threshold rule's key,
# summary, severity, policy and runbook (``inc_*``: the alert's own when no rule matches).
_ALERT_COLUMNS = ("integration_id, incident_id, received_at, status, type, severity, summary, "
                  "dedup_key, service, labels, value, raw, rule, held")
FIND_OPEN = ("SELECT id, status FROM incidents WHERE service_id = :service_id AND "
             "dedup_key = :inc_key AND status <> 'resolved'")

# PostgreSQL: every firing alert of a request (one, an Alertmanager group, a JSON array) in
# one statement, its rows one JSON parameter (``ROWS``, ``db.Recordset``): one round trip,
# and the same statement text whatever the number of alerts (prepared once per connection).
# Alert ids are drawn first so that each input row keeps its own; the first alert of an
# incident key opens its incident, the rest join it (``ON CONFLICT DO NOTHING`` on the
# partial unique index: no row lock taken to join). Each row carries its incident's key,
# summary, severity, policy and runbook (a threshold rule's, else the alert's own); alerts a
# rule held are stored with no incident. If a concurrent transaction opened an incident after
# this statement's snapshot was taken, neither branch of `inc` sees it: its rows come back
# missing, nothing of them is written, and the caller runs them again (with a new snapshot,
# which sees that incident). The wake NOTIFY is sent only when an incident
# opened.
ROWS = db.Recordset("t", "ord int, service_id int, dedup_key text, type text, severity text, "
                   "summary text, service text, labels json, value float8, raw json, "
                   "inc_key text, inc_summary text, inc_severity text, policy json, "
                   "runbook text, rule text, held boolean")
TRIGGER_PG = _typed(f"""
WITH input AS (
  SELECT nextval(pg_get_serial_sequence('alerts', 'id')) AS alert_id, t.* FROM {ROWS.sql}
),
paged AS (SELECT * FROM input WHERE NOT held),
firsts AS (
  SELECT DISTINCT ON (service_id, inc_key) * FROM paged ORDER BY service_id, inc_key, ord
),
ins AS (
  INSERT INTO incidents (service_id, dedup_key, status, severity, summary, policy, runbook,
                         level, loop, next_action_at, created_at, updated_at)
  SELECT service_id, inc_key, 'triggered', inc_severity, inc_summary, policy, runbook, 0, 0,
         :now, :now, :now
  -- In key order, not arrival order: two batches holding the same keys in other orders
  -- would each wait on the other's new index entries (a deadlock, answered 503).
  FROM firsts ORDER BY service_id, inc_key
  ON CONFLICT (service_id, dedup_key) WHERE status <> 'resolved' DO NOTHING
  RETURNING id, service_id, dedup_key AS inc_key, status
),
inc AS (
  SELECT id, service_id, inc_key, status, true AS new FROM ins
  UNION ALL
  SELECT i.id, i.service_id, i.dedup_key, i.status, false AS new
  FROM incidents i JOIN firsts f ON i.service_id = f.service_id AND i.dedup_key = f.inc_key
  WHERE i.status <> 'resolved' AND NOT EXISTS (
    SELECT 1 FROM ins WHERE ins.service_id = f.service_id AND ins.inc_key = f.inc_key)
),
placed AS (
  SELECT paged.*, inc.id AS incident_id, inc.status AS incident_status,
         inc.new AND paged.alert_id = f.alert_id AS opened
  FROM paged JOIN inc USING (service_id, inc_key) JOIN firsts f USING (service_id, inc_key)
  UNION ALL
  SELECT input.*, NULL, 'held', false FROM input WHERE held
),
al AS (
  INSERT INTO alerts (id, {_ALERT_COLUMNS})
  SELECT alert_id, :integration_id, incident_id, :now, 'firing', type, severity, summary,
         dedup_key, service, labels, value, raw, rule, held
  FROM placed
),
ev AS (
  INSERT INTO incident_events (incident_id, at, kind, actor, detail)
  SELECT incident_id, :now, 'triggered', :actor,
         json_strip_nulls(json_build_object('alert_id', alert_id, 'summary', inc_summary,
                                            'severity', inc_severity, 'rule', rule))
  FROM placed WHERE opened
)
SELECT ord, alert_id, incident_id, incident_status, opened,
       (SELECT {wake_listener.NOTIFY_SQL} WHERE EXISTS (SELECT 1 FROM inc WHERE inc.new))
FROM placed
""").columns(column("ord", Integer), column("alert_id", Integer), column("incident_id", Integer),
             column("incident_status", String), column("opened", Boolean),
             column("notified", String))

# Open the incident unless one is open (the same ``ON CONFLICT DO NOTHING``); store an alert.
_OPEN_SQL = ("INSERT INTO incidents (service_id, dedup_key, status, severity, summary, "
             "policy, runbook, level, loop, next_action_at, created_at, updated_at) VALUES "
             "(:service_id, :inc_key, 'triggered', :inc_severity, :inc_summary, :policy, "
             ":runbook, 0, 0, :now, :now, :now) ON CONFLICT (service_id, dedup_key) "
             "WHERE status <> 'resolved' DO NOTHING RETURNING id, status")
_ALERT_VALUES = (":integration_id, {incident}, :now, :status, :type, :severity, :summary, "
                 ":dedup_key, :service, :labels, :value, :raw, :rule, :held")

# PostgreSQL, one firing alert no rule held (most requests): the same work as TRIGGER_PG
# from plain parameters. ``bench/ingest.py`` shows why it exists: the batch statement's
# JSON rows cost a lone alert about 0.1 ms more of PostgreSQL per alert, -9 % of
# ``oncall-dedup``'s throughput (bench/README.md). Nothing written if a concurrent open is
# missed (the caller retries, as for TRIGGER_PG).
TRIGGER_ONE_PG = _typed(f"""
WITH ins AS ({_OPEN_SQL}),
inc AS (
  SELECT id, status, true AS new FROM ins
  UNION ALL
  (SELECT id, status, false AS new FROM incidents
    WHERE service_id = :service_id AND dedup_key = :inc_key AND status <> 'resolved'
      AND NOT EXISTS (SELECT 1 FROM ins) LIMIT 1)
),
al AS (INSERT INTO alerts ({_ALERT_COLUMNS})
       SELECT {_ALERT_VALUES.format(incident="inc.id")} FROM inc RETURNING id),
ev AS (INSERT INTO incident_events (incident_id, at, kind, actor, detail)
       SELECT inc.id, :now, 'triggered', :actor,
              json_strip_nulls(json_build_object(
                'alert_id', (SELECT id FROM al), 'summary', CAST(:inc_summary AS text),
                'severity', CAST(:inc_severity AS text), 'rule', CAST(:rule AS text)))
       FROM inc WHERE inc.new)
SELECT (SELECT id FROM al), inc.id, inc.status, inc.new,
       (SELECT {wake_listener.NOTIFY_SQL} FROM inc WHERE inc.new) FROM inc
""").columns(column("alert_id", Integer), column("incident_id", Integer),
             column("status", String), column("new", Boolean), column("notified", String))

# SQLite (one writer at a time): open the incident unless one is open, else find it; then
# store the alert.
OPEN = _typed(_OPEN_SQL)
FIND = text(FIND_OPEN)
STORE = _typed(f"INSERT INTO alerts ({_ALERT_COLUMNS}) VALUES "
               f"({_ALERT_VALUES.format(incident=':incident_id')}) RETURNING id")

# Both dialects.
RESOLVE = _typed("UPDATE incidents SET status = 'resolved', resolved_at = :now, "
                 "resolved_by = :actor, next_action_at = NULL, updated_at = :now "
                 "WHERE service_id = :service_id AND dedup_key = :inc_key "
                 "AND status IN ('triggered', 'acknowledged') RETURNING id")
ACK = _typed("UPDATE incidents SET status = 'acknowledged', acked_at = :now, "
             "acked_by = :actor, next_action_at = NULL, updated_at = :now "
             "WHERE service_id = :service_id AND dedup_key = :dedup_key "
             "AND status = 'triggered' RETURNING id")
