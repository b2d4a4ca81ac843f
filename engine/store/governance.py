"""Waivers, their audit trail and campaign notifications in the store.

Every change to a waiver is a row in `waiver_events` written in the same transaction as
the change, so the trail cannot miss one: API requests and decisions name the token that
made them; file waivers are kept in step at each load and name their file.

Notifications are claimed by inserting their event key (unique), then moved from pending
to sending with a conditional update, so two replicas never send the same event: at most
once, by design (a process that dies mid-send leaves the row `sending`, shown as such).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col
from sqlmodel import select as model_select

from . import scans
from .models import FindingRow, NotificationRow, WaiverEvent, WaiverRow

waivers_table = WaiverRow.__table__  # type: ignore[attr-defined]
events_table = WaiverEvent.__table__  # type: ignore[attr-defined]
notifications_table = NotificationRow.__table__  # type: ignore[attr-defined]

TRANSITIONS = {
    "approve": ({"requested"}, "approved"),
    "reject": ({"requested"}, "rejected"),
    "revoke": ({"requested", "approved"}, "revoked"),
}
"""action -> (the states it may start from, the state it leads to; also the audit verb)."""


class WaiverStateError(ValueError):
    """A change the waiver's state or source does not allow (the API answers 409)."""


class GovernanceStore:
    """Mixed into `Store`: it provides `_begin`, `_session` and `_errors`."""

    _begin: Callable[[], AbstractContextManager[Connection]]
    _session: Callable[[], Session]
    _errors: Callable[[str], AbstractContextManager[None]]

    # --- waivers -------------------------------------------------------------------------

    def waiver_rows(self, *, state: str | None = None) -> list[WaiverRow]:
        query = model_select(WaiverRow)
        if state is not None:
            query = query.where(col(WaiverRow.state) == state)
        with self._errors("cannot read waivers"), self._session() as session:
            return list(session.exec(query.order_by(col(WaiverRow.waiver_id))).all())

    def waiver_row(self, waiver_id: str) -> WaiverRow | None:
        query = model_select(WaiverRow).where(col(WaiverRow.waiver_id) == waiver_id)
        with self._errors("cannot read waivers"), self._session() as session:
            return session.exec(query).first()

    def request_waiver(self, waiver_id: str, spec: dict[str, Any], *, expires_at: datetime,
                       requested_by: str, actor: str, now: datetime) -> WaiverRow:
        row = {"waiver_id": waiver_id, "source": "api", "location": None,
               "state": "requested", "spec": spec, "expires_at": expires_at,
               "requested_by": requested_by, "approved_by": None, "requested_at": now,
               "decided_at": None, "updated_at": now}
        with self._errors("cannot write waivers"):
            try:
                with self._begin() as conn:
                    conn.execute(insert(waivers_table), [row])
                    _event(conn, waiver_id, now, actor, "requested", {"spec": spec})
            except IntegrityError as exc:  # caught before _errors makes it a StoreError
                raise WaiverStateError(f"waiver {waiver_id} already exists") from exc
        found = self.waiver_row(waiver_id)
        assert found is not None
        return found

    def decide_waiver(self, waiver_id: str, action: str, *, actor: str, now: datetime,
                      comment: str | None = None) -> WaiverRow:
        """approve | reject | revoke. The approver must not be the requester."""
        allowed, new_state = TRANSITIONS[action]
        with self._errors("cannot write waivers"), self._begin() as conn:
            row = conn.execute(select(waivers_table).where(
                waivers_table.c.waiver_id == waiver_id)).mappings().first()
            if row is None:
                raise KeyError(waiver_id)
            if row["source"] == "annotation":
                raise WaiverStateError(
                    f"waiver {waiver_id} comes from the annotations of {row['location']}; "
                    "change them on the object (governance.waivers.annotation_policies "
                    "says which policies it may waive)")
            if row["source"] != "api":
                raise WaiverStateError(
                    f"waiver {waiver_id} comes from {row['location'] or 'a file'}; change it "
                    "there (files are reviewed like code)")
            if row["state"] not in allowed:
                raise WaiverStateError(f"waiver {waiver_id} is {row['state']}; it cannot be "
                                       f"{new_state}")
            if action == "approve" and actor == row["requested_by"]:
                raise WaiverStateError(f"waiver {waiver_id} was requested by {actor}; "
                                       "someone else must approve it")
            values: dict[str, Any] = {"state": new_state, "updated_at": now,
                                      "decided_at": now}
            spec = dict(row["spec"])
            if action == "approve":
                values["approved_by"] = actor
                spec["approvedBy"] = actor
                values["spec"] = spec
            conn.execute(update(waivers_table).where(
                waivers_table.c.waiver_id == waiver_id).values(**values))
            _event(conn, waiver_id, now, actor, new_state,
                   {"comment": comment} if comment else {})
        found = self.waiver_row(waiver_id)
        assert found is not None
        return found

    def sync_file_waivers(self, waivers: Sequence[dict[str, Any]], now: datetime) -> None:
        """Keep the rows of file waivers in step with the files just read.

        `waivers`: `{"waiver_id", "location", "spec", "expires_at", "requested_by",
        "approved_by", "requested_at"}` per waiver. New ones are `created`, edited ones
        `changed` (with before and after), ones no longer in any file `removed`.
        """
        with self._errors("cannot write waivers"), self._begin() as conn:
            _sync_source(conn, "file", waivers, now, lambda old: True)

    def sync_annotation_waivers(self, waivers: Sequence[dict[str, Any]],
                                scanned: set[str], now: datetime) -> None:
        """The same for waivers read from workloads' own annotations (location: the
        object, `Kind/namespace/name`). Only objects this scan read can lose theirs: a
        scan of repositories, or of another shard, leaves the others as they were."""
        with self._errors("cannot write waivers"), self._begin() as conn:
            _sync_source(conn, "annotation", waivers, now,
                         lambda old: old["location"] in scanned)

    def waiver_events(self, *, waiver_id: str | None = None,
                      limit: int = 500) -> list[WaiverEvent]:
        query = model_select(WaiverEvent)
        if waiver_id is not None:
            query = query.where(col(WaiverEvent.waiver_id) == waiver_id)
        query = query.order_by(col(WaiverEvent.id).desc()).limit(limit)
        with self._errors("cannot read the waiver audit trail"), self._session() as session:
            return list(session.exec(query).all())

    def waiver_usage(self) -> dict[str, int]:
        """Waiver id -> current findings it excuses (newest ended scan per scope/shard)."""
        with self._errors("cannot read findings"), self._session() as session:
            latest = scans.latest_scan_ids(session.connection())
            if not latest:
                return {}
            query = (select(FindingRow.waiver, func.count())
                     .where(col(FindingRow.scan_id).in_(latest),
                            col(FindingRow.waiver).is_not(None))
                     .group_by(FindingRow.waiver))
            return {w: n for w, n in session.execute(query)}

    # --- notifications -------------------------------------------------------------------

    def claim_notification(self, event_key: str, *, campaign: str, team: str, event: str,
                           payload: dict[str, Any], now: datetime,
                           status: str = "pending") -> bool:
        """Record an event once; False when it was already recorded (by anyone)."""
        row = {"event_key": event_key, "campaign": campaign, "team": team, "event": event,
               "payload": payload, "status": status, "attempts": 0, "last_error": None,
               "created_at": now, "sent_at": None}
        # The IntegrityError is caught inside `_errors`, which would otherwise turn the
        # race this handles into a StoreError.
        with self._errors("cannot write notifications"):
            try:
                with self._begin() as conn:
                    if conn.execute(select(notifications_table.c.id).where(
                            notifications_table.c.event_key == event_key)).first():
                        return False
                    conn.execute(insert(notifications_table), [row])
            except IntegrityError:
                return False  # another replica recorded it between our check and insert
        return True

    def pending_notifications(self) -> list[NotificationRow]:
        query = (model_select(NotificationRow)
                 .where(col(NotificationRow.status) == "pending")
                 .order_by(col(NotificationRow.id)))
        with self._errors("cannot read notifications"), self._session() as session:
            return list(session.exec(query).all())

    def start_sending(self, notification_id: int) -> bool:
        """pending -> sending, only if still pending: the one sender wins."""
        with self._errors("cannot write notifications"), self._begin() as conn:
            done = conn.execute(update(notifications_table).where(
                notifications_table.c.id == notification_id,
                notifications_table.c.status == "pending").values(status="sending"))
            return done.rowcount == 1

    def finish_notification(self, notification_id: int, *, status: str, attempts: int,
                            error: str | None, now: datetime) -> None:
        """sent | pending (retry on the next run) | failed (gave up)."""
        with self._errors("cannot write notifications"), self._begin() as conn:
            conn.execute(update(notifications_table).where(
                notifications_table.c.id == notification_id).values(
                status=status, attempts=attempts, last_error=error,
                sent_at=now if status == "sent" else None))

    def notifications(self, *, campaign: str | None = None) -> list[NotificationRow]:
        query = model_select(NotificationRow)
        if campaign is not None:
            query = query.where(col(NotificationRow.campaign) == campaign)
        with self._errors("cannot read notifications"), self._session() as session:
            return list(session.exec(query.order_by(col(NotificationRow.id))).all())


def _sync_source(conn: Connection, source: str, waivers: Sequence[dict[str, Any]],
                 now: datetime, removable: Callable[[Any], bool]) -> None:
    """Rows of one source in step with what was just read; every change audited with the
    waiver's location as the actor (`file:<path>:<line>`, `annotation:<object>`)."""
    known = {r["waiver_id"]: r for r in conn.execute(select(waivers_table).where(
        waivers_table.c.source == source)).mappings()}
    taken = {r[0] for r in conn.execute(select(waivers_table.c.waiver_id).where(
        waivers_table.c.source != source))}
    for w in waivers:
        if w["waiver_id"] in taken:
            continue  # a waiver of the same id from elsewhere keeps its own history
        actor = f"{source}:{w['location']}"
        old = known.pop(w["waiver_id"], None)
        values = {**w, "source": source, "state": "approved", "updated_at": now}
        if old is None:
            conn.execute(insert(waivers_table), [{**values, "decided_at": now}])
            _event(conn, w["waiver_id"], now, actor, "created", {"spec": w["spec"]})
        elif old["spec"] != w["spec"] or old["state"] != "approved":
            conn.execute(update(waivers_table).where(
                waivers_table.c.waiver_id == w["waiver_id"]).values(**values))
            _event(conn, w["waiver_id"], now, actor, "changed",
                   {"before": old["spec"], "after": w["spec"]})
    for waiver_id, old in known.items():
        if old["state"] == "removed" or not removable(old):
            continue
        conn.execute(update(waivers_table).where(
            waivers_table.c.waiver_id == waiver_id).values(state="removed", updated_at=now))
        _event(conn, waiver_id, now, f"{source}:{old['location']}", "removed", {})


def _event(conn: Connection, waiver_id: str, now: datetime, actor: str, action: str,
           detail: dict[str, Any]) -> None:
    conn.execute(insert(events_table), [{"waiver_id": waiver_id, "time": now,
                                         "actor": actor, "action": action,
                                         "detail": detail}])

