"""The path of a page, from a due incident to a provider's answer. Each module is named for
its job; import names from the module that defines them (nothing is re-exported here).

- ``policy_snapshot``: the escalation policy an incident carries, frozen (pure values).
- ``next_level``: which level of the escalation policy comes next, and when (pure).
- ``step_plan``: working out an incident's step: whom its level pages (reads only).
- ``stepping``: taking due incidents a step up their ladder, queueing their pages.
- ``page_outbox``: the page outbox, one row per page, inserted once.
- ``delivery``: claiming a page with a lease, sending it outside a transaction, recording
  the outcome (retried with backoff when transient).
- ``fallback``: a user's next channel when a page to them failed for good.
- ``unpaged``: admins paged for an incident that pages nobody else.
- ``runs``: what one worker task runs, in its own transactions (escalate an incident,
  deliver a page or an incident's pages, hand pages over to tasks).
- ``sweeper``: the periodic re-drive that steps every due incident and delivers every due
  page in batches (``dispatch``: the same batches, run as soon as new incidents wake it).
- ``wake_listener``: PostgreSQL ``LISTEN/NOTIFY`` wake-ups and the escalation timer.
"""
