"""SQLAlchemy 2 models: the schema every process shares.

Times are stored in UTC. The migrations in ``oncall/migrations`` create exactly this schema
on PostgreSQL and SQLite; ``tests/test_migrations.py`` checks that they agree.

One module per area (``base``, ``people``, ``services``, ``schedules``, ``incidents``,
``paging``, ``monitoring``, ``system``); every model is imported here, so that SQLAlchemy's
registry and ``Base.metadata`` (which the migrations compare with) hold them all, and
``from oncall.models import X`` works for every X.
"""

from oncall.models.base import (
    NAMING,
    Base,
    PolicyJSON,
    UTCDateTime,
    utcnow,
)
from oncall.models.incidents import (
    INCIDENT_STATUSES,
    Alert,
    EmailLinkUse,
    Incident,
    IncidentEvent,
)
from oncall.models.monitoring import (
    HEARTBEAT_STATES,
    PING_KINDS,
    Heartbeat,
    HeartbeatPing,
    MaintenanceSuppression,
    MaintenanceWindow,
    RuleState,
    ThresholdRule,
)
from oncall.models.paging import (
    PAGE_STATUSES,
    Page,
    ProviderSend,
    ReplyCode,
    SlackMessage,
    TwilioInbound,
)
from oncall.models.people import (
    ROLES,
    ApiToken,
    ContactMethod,
    NotificationRule,
    PhoneVerification,
    SignInLink,
    TestPage,
    User,
)
from oncall.models.schedules import (
    Notice,
    Override,
    Schedule,
    ScheduleLayer,
    ScheduleLayerVersion,
)
from oncall.models.services import (
    INTEGRATION_KINDS,
    EscalationPolicy,
    Integration,
    PolicyLevel,
    Service,
)
from oncall.models.system import (
    AuditEntry,
    SystemState,
)

__all__ = [
    "HEARTBEAT_STATES",
    "INCIDENT_STATUSES",
    "INTEGRATION_KINDS",
    "NAMING",
    "PAGE_STATUSES",
    "PING_KINDS",
    "ROLES",
    "Alert",
    "ApiToken",
    "AuditEntry",
    "Base",
    "ContactMethod",
    "EmailLinkUse",
    "EscalationPolicy",
    "Heartbeat",
    "HeartbeatPing",
    "Incident",
    "IncidentEvent",
    "Integration",
    "MaintenanceSuppression",
    "MaintenanceWindow",
    "Notice",
    "NotificationRule",
    "Override",
    "Page",
    "PhoneVerification",
    "PolicyJSON",
    "PolicyLevel",
    "ProviderSend",
    "ReplyCode",
    "RuleState",
    "Schedule",
    "ScheduleLayer",
    "ScheduleLayerVersion",
    "Service",
    "SignInLink",
    "SlackMessage",
    "SystemState",
    "TestPage",
    "ThresholdRule",
    "TwilioInbound",
    "UTCDateTime",
    "User",
    "utcnow",
]
