"""G.729 licences: the three-step activation (G729-02/03), the list and the licence file.

The procedure's state lives in PostgreSQL so any replica (and any config-api replica in
front of it) can serve the next step; each step locks its row and asks
:func:`g729_steps.advance` whether it is allowed, so steps cannot be skipped or reordered
even by concurrent requests.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import asyncpg

from centralino_licensing.errors import NotFound
from centralino_licensing.g729_steps import (
    TERMS_VERSION,
    Action,
    PersonalData,
    Step,
    advance,
    check_terms,
)
from centralino_licensing.keys import LicenceClaims
from centralino_licensing.licences import LicenceBook, lock_licence_id
from centralino_licensing.products import Kind
from centralino_licensing.records import LicenceRecord, find_licence, insert_licence, to_dt

# An abandoned procedure is forgotten after a day; the key can simply be entered again.
ACTIVATION_LIFETIME = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class ActivationView:
    id: str
    next_step: Step
    key: str
    claims: LicenceClaims


@dataclass(frozen=True, slots=True)
class LicenceFile:
    filename: str
    content_type: str
    content: bytes


def _activation_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise NotFound("unknown_activation", f"no G.729 activation {text!r}") from None


class G729Activations:
    def __init__(self, book: LicenceBook) -> None:
        self.book = book
        self.db = book.db

    async def start(self, key: str, now: float) -> ActivationView:
        """Step 1: the key is verified now, and refused if already active."""
        claims = self.book.verify(key, Kind.G729, now)
        activation_id = uuid.uuid4()
        async with self.db.acquire() as conn, conn.transaction():
            await self.book.refuse_duplicate(conn, claims)
            await conn.execute(
                "DELETE FROM licensing.g729_activations WHERE created_at < $1",
                to_dt(now - ACTIVATION_LIFETIME),
            )
            await conn.execute(
                """INSERT INTO licensing.g729_activations
                       (id, activation_key, next_step, created_at)
                   VALUES ($1, $2, $3, $4)""",
                activation_id,
                key.strip(),
                Step.ACCEPT_TERMS.value,
                to_dt(now),
            )
        return ActivationView(str(activation_id), Step.ACCEPT_TERMS, key.strip(), claims)

    async def _locked(self, conn: asyncpg.Connection, activation_id: str) -> asyncpg.Record:
        row = await conn.fetchrow(
            "SELECT * FROM licensing.g729_activations WHERE id = $1 FOR UPDATE",
            _activation_id(activation_id),
        )
        if row is None:
            raise NotFound("unknown_activation", f"no G.729 activation {activation_id!r}")
        return row

    async def accept_terms(
        self, activation_id: str, accepted: bool, version: str, now: float
    ) -> ActivationView:
        """Step 2."""
        async with self.db.acquire() as conn, conn.transaction():
            row = await self._locked(conn, activation_id)
            step = advance(Step(row["next_step"]), Action.ACCEPT_TERMS)
            check_terms(accepted, version)
            claims = self.book.verify(row["activation_key"], Kind.G729, now)
            await conn.execute(
                """UPDATE licensing.g729_activations SET next_step = $2, terms_version = $3
                   WHERE id = $1""",
                row["id"],
                step.value,
                version,
            )
        return ActivationView(activation_id, step, row["activation_key"], claims)

    async def submit_personal_data(
        self, activation_id: str, data: PersonalData, now: float
    ) -> ActivationView:
        """Step 3."""
        async with self.db.acquire() as conn, conn.transaction():
            row = await self._locked(conn, activation_id)
            step = advance(Step(row["next_step"]), Action.PERSONAL_DATA)
            clean = data.validated()
            claims = self.book.verify(row["activation_key"], Kind.G729, now)
            await conn.execute(
                "UPDATE licensing.g729_activations SET next_step = $2, licensee = $3 WHERE id = $1",
                row["id"],
                step.value,
                json.dumps(clean.as_json()),
            )
        return ActivationView(activation_id, step, row["activation_key"], claims)

    async def complete(self, activation_id: str, now: float) -> LicenceRecord:
        """The Activate button (G729-03): only once all three steps are done."""
        async with self.db.acquire() as conn, conn.transaction():
            row = await self._locked(conn, activation_id)
            advance(Step(row["next_step"]), Action.ACTIVATE)
            # The dates are checked again: the key may have expired since step 1.
            claims = self.book.verify(row["activation_key"], Kind.G729, now)
            await lock_licence_id(conn, claims.id)
            await self.book.refuse_duplicate(conn, claims)
            record = await insert_licence(
                conn,
                claims,
                row["activation_key"],
                now,
                licensee=json.loads(row["licensee"]),
                terms_version=row["terms_version"],
            )
            await conn.execute("DELETE FROM licensing.g729_activations WHERE id = $1", row["id"])
        return record

    async def licence_file(self, licence_id: str) -> LicenceFile:
        """The G.729 list's Download (G729-01): the key with what it was activated under."""
        async with self.db.acquire() as conn:
            record = await find_licence(conn, licence_id)
        if record is None or record.kind is not Kind.G729:
            raise NotFound("unknown_licence", f"no G.729 licence with id {licence_id!r}")
        return licence_file(record)


def download_name(record: LicenceRecord) -> str:
    return f"g729-{record.id}.lic"


def licence_file(record: LicenceRecord) -> LicenceFile:
    def iso(ts: float | None) -> str | None:
        return None if ts is None else to_dt(ts).isoformat().replace("+00:00", "Z")

    document = {
        "format": "centralino-g729-licence/1",
        "id": record.id,
        "key": record.key,
        "serial": record.serial,
        "channels": record.channels,
        "valid_from": iso(record.valid_from),
        "expires": iso(record.expires_at),
        "activated": iso(record.activated_at),
        "terms_version": record.terms_version or TERMS_VERSION,
        "licensee": record.licensee or {},
    }
    content = (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()
    return LicenceFile(download_name(record), "application/json", content)
