"""Failed sign-ins, counted per account and per client address with the ``limits`` library
(flask-limiter's engine), in the same storage as the intake limits (Redis when the broker
is Redis, else this process's memory). Only failures count: a person who types their
password right is never slowed down by their colleagues' typos."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse_many, storage, strategies

log = logging.getLogger(__name__)
RETRY_STORAGE_AFTER = 30  # seconds on the in-memory counters before trying the storage again


@dataclass
class Throttle:
    items: list[RateLimitItem]
    limiter: strategies.RateLimiter
    fallback: strategies.RateLimiter

    @classmethod
    def create(cls, limit: str, storage_uri: str) -> Throttle:
        options = {"socket_connect_timeout": 1, "socket_timeout": 1} \
            if storage_uri.startswith("redis") else {}
        store = storage.storage_from_string(storage_uri, **options)
        memory = storage.MemoryStorage()
        return cls(list(parse_many(limit)), strategies.SlidingWindowCounterRateLimiter(store),
                   strategies.SlidingWindowCounterRateLimiter(memory))

    def _keys(self, email: str, address: str | None) -> list[tuple[RateLimitItem, str, str]]:
        keys = []
        for item in self.items:
            keys.append((item, "account", email.strip().lower()))
            # An address gets four times an account's allowance (an office behind one NAT).
            wide = type(item)(item.amount * 4, item.multiples, namespace=item.namespace)
            keys.append((wide, "address", address or "?"))
        return keys

    down_until: float = 0.0

    def _call(self, method: str, *args: object) -> object:
        if time.monotonic() >= self.down_until:
            try:
                return getattr(self.limiter, method)(*args)
            except Exception as exc:  # a limiter outage must not lock everyone out
                log.warning("sign-in limiter storage unavailable (%s); counting in memory "
                            "for %ds", exc, RETRY_STORAGE_AFTER)
                self.down_until = time.monotonic() + RETRY_STORAGE_AFTER
        return getattr(self.fallback, method)(*args)

    def retry_after(self, email: str, address: str | None) -> int | None:
        """Seconds until another attempt is allowed, or None when one is allowed now."""
        waits = []
        for item, kind, key in self._keys(email, address):
            if not self._call("test", item, "oncall-signin", kind, key):
                stats = self._call("get_window_stats", item, "oncall-signin", kind, key)
                reset = getattr(stats, "reset_time", time.time() + item.get_expiry())
                waits.append(max(1, math.ceil(reset - time.time())))
        return max(waits) if waits else None

    def failed(self, email: str, address: str | None) -> None:
        for item, kind, key in self._keys(email, address):
            self._call("hit", item, "oncall-signin", kind, key)
