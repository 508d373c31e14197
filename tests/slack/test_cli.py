"""``oncall user slack EMAIL UID``: linking an existing user to their Slack account."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from oncall.models import AuditEntry
from tests.test_cli import oncall  # noqa: F401 - the fixture


def test_a_user_is_linked_to_slack_and_it_is_audited(oncall: Any, factory: Any) -> None:  # noqa: F811
    oncall("user", "add", "alice@example.com", "--name", "Alice")
    assert "linked alice@example.com" in oncall("user", "slack", "alice@example.com",
                                                "U012AB3CD").output
    [row] = json.loads(oncall("user", "list", "--json").output)
    assert row["slack"] == "U012AB3CD"
    with factory() as s:
        [entry] = s.scalars(select(AuditEntry))
        assert (entry.object_type, entry.before, entry.after) == (
            "user", {"slack": None}, {"slack": "U012AB3CD"})


def test_a_bad_member_id_or_unknown_user_is_refused(oncall: Any) -> None:  # noqa: F811
    result = oncall("user", "slack", "ghost@example.com", "U012AB3CD", ok=False)
    assert result.exit_code != 0 and "no user ghost@example.com" in result.output
    result = oncall("user", "slack", "ghost@example.com", "@alice", ok=False)
    assert result.exit_code != 0 and "not a Slack member id" in result.output
