"""Named tenant entities: pickup groups, outbound routing classes and SIP trunks.

They share one table and one life cycle (create, read, patch, delete with a reference
check); what differs per kind is the document's schema and who may reference it.
A trunk also references extensions by number (its DIDs and default extension, where the
router sends incoming calls); those must exist when the trunk is written.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from centralino_config_api.common import (
    check_keys,
    check_revision,
    iso,
    not_found,
    require_object,
)
from centralino_config_api.crypto import SecretBox
from centralino_config_api.db import record_change
from centralino_config_api.errors import Conflict, FieldProblem, ValidationFailed
from centralino_config_api.fields import FieldInvalid, FieldSet, boolean, choice, integer, text
from centralino_config_api.model import ALNUM, HOSTNAME, TRANSPORTS

#: extension numbers as a trunk names them (an extension's own number is 1 to 15 digits)
EXTENSION_NUMBER = r"[0-9]{1,20}"
DID_NUMBER = re.compile(r"\+?[0-9]{1,20}")
CODEC = re.compile(r"[A-Za-z0-9.\-]{1,32}")
MAX_CODECS = 16
MAX_DIDS = 1000

NAME = text("name", None, "unique name within the tenant", max_length=64, nullable=False)
DESCRIPTION = text("description", None, "free text", max_length=256)

# Dial patterns in the usual PBX notation: digits, X (any digit), Z (1-9), N (2-9),
# [..] sets, and a trailing "." (one or more further digits).
PATTERN = re.compile(r"\+?(?:[0-9*#XZNxzn]|\[[0-9\-]+\])+\.?")

PATTERN_DOC = "dial pattern: digits, X=0-9, Z=1-9, N=2-9, [1-5] sets, trailing . = more digits"


def _rule(value: Any, i: int, problems: list[FieldProblem]) -> dict[str, Any] | None:
    where = f"rules[{i}]"
    if not isinstance(value, dict):
        problems.append(FieldProblem(where, "must be an object"))
        return None
    extra = set(value) - {"pattern", "action", "trunk_id"}
    if extra:
        problems.append(FieldProblem(where, "unknown keys: " + ", ".join(sorted(extra))))
    pattern = value.get("pattern")
    if not isinstance(pattern, str) or not PATTERN.fullmatch(pattern) or len(pattern) > 32:
        problems.append(FieldProblem(f"{where}.pattern", "must be a " + PATTERN_DOC))
    action = value.get("action")
    if action not in ("allow", "deny"):
        problems.append(FieldProblem(f"{where}.action", "must be allow or deny"))
    trunk = value.get("trunk_id")
    if action == "allow":
        try:
            trunk = str(uuid.UUID(trunk)) if isinstance(trunk, str) else None
        except ValueError:
            trunk = None
        if trunk is None:
            problems.append(FieldProblem(f"{where}.trunk_id", "an allow rule needs a trunk id"))
    elif trunk is not None:
        problems.append(FieldProblem(f"{where}.trunk_id", "a deny rule takes no trunk"))
    return {"pattern": pattern, "action": action, "trunk_id": trunk}


def _rules(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise ValidationFailed("invalid rules", [FieldProblem("rules", "must be a list")])
    if len(value) > 200:
        raise ValidationFailed("invalid rules", [FieldProblem("rules", "at most 200 rules")])
    problems: list[FieldProblem] = []
    out = [_rule(v, i, problems) for i, v in enumerate(value)]
    if problems:
        raise ValidationFailed("invalid rules", problems)
    return [r for r in out if r is not None]


def _codecs(value: Any) -> list[str]:
    """Codec names in preference order, as the provider knows them (free-form: the media
    service decides what it can offer)."""
    if not isinstance(value, list):
        raise ValidationFailed("invalid codecs", [FieldProblem("codecs", "must be a list")])
    if len(value) > MAX_CODECS:
        raise ValidationFailed(
            "invalid codecs", [FieldProblem("codecs", f"at most {MAX_CODECS} codecs")]
        )
    problems: list[FieldProblem] = []
    seen: set[str] = set()
    for i, v in enumerate(value):
        if not isinstance(v, str) or not CODEC.fullmatch(v):
            problems.append(
                FieldProblem(f"codecs[{i}]", "must be a codec name (1 to 32 of A-Z a-z 0-9 . -)")
            )
        elif v.lower() in seen:
            problems.append(FieldProblem(f"codecs[{i}]", f"{v} is listed twice"))
        else:
            seen.add(v.lower())
    if problems:
        raise ValidationFailed("invalid codecs", problems)
    return list(value)


def _dids(value: Any) -> list[dict[str, str]]:
    """Incoming numbers of a trunk and the extension each one rings."""
    if not isinstance(value, list):
        raise ValidationFailed("invalid dids", [FieldProblem("dids", "must be a list")])
    if len(value) > MAX_DIDS:
        raise ValidationFailed("invalid dids", [FieldProblem("dids", f"at most {MAX_DIDS} DIDs")])
    problems: list[FieldProblem] = []
    out: list[dict[str, str]] = []
    seen: dict[str, int] = {}
    for i, v in enumerate(value):
        where = f"dids[{i}]"
        if not isinstance(v, dict):
            problems.append(FieldProblem(where, 'must be an object like {"number", "extension"}'))
            continue
        extra = set(v) - {"number", "extension"}
        if extra:
            problems.append(FieldProblem(where, "unknown keys: " + ", ".join(sorted(extra))))
        number, ext = v.get("number"), v.get("extension")
        if not isinstance(number, str) or not DID_NUMBER.fullmatch(number):
            problems.append(
                FieldProblem(f"{where}.number", "must be 1 to 20 digits, optionally after a +")
            )
        elif number in seen:
            problems.append(
                FieldProblem(f"{where}.number", f"{number} is already dids[{seen[number]}]")
            )
        else:
            seen[number] = i
        if not isinstance(ext, str) or not re.fullmatch(EXTENSION_NUMBER, ext):
            problems.append(FieldProblem(f"{where}.extension", "must be an extension number"))
        out.append({"number": str(number), "extension": str(ext)})
    if problems:
        raise ValidationFailed("invalid dids", problems)
    return out


@dataclass(frozen=True)
class Kind:
    kind: str
    fields: FieldSet
    #: validators for list-valued attributes the field registry does not cover
    extra: dict[str, Callable[[Any], Any]]
    has_secret: bool = False
    required: tuple[str, ...] = ()

    @property
    def keys(self) -> set[str]:
        return {
            "name",
            *self.fields.fields,
            *self.extra,
            *(["password"] if self.has_secret else []),
        }


PICKUP_GROUP = Kind("pickup_group", FieldSet([DESCRIPTION]), {})
ROUTING_CLASS = Kind("routing_class", FieldSet([DESCRIPTION]), {"rules": _rules})
TRUNK = Kind(
    "trunk",
    FieldSet(
        [
            DESCRIPTION,
            boolean("enabled", True, "trunk enabled"),
            text(
                "host",
                None,
                "provider host",
                pattern=HOSTNAME,
                why="must be a hostname or IP",
                max_length=253,
                nullable=False,
            ),
            integer("port", 5060, "provider port", minimum=1, maximum=65535),
            choice("transport", TRANSPORTS, "udp", "signalling transport"),
            text("username", None, "authentication username", max_length=64),
            boolean("register", False, "register to the provider"),
            text(
                "outbound_proxy",
                None,
                "outbound proxy host (null = send to host:port)",
                pattern=HOSTNAME,
                why="must be a hostname or IP",
                max_length=253,
            ),
            integer("outbound_proxy_port", 5060, "outbound proxy port", minimum=1, maximum=65535),
            integer(
                "expires",
                3600,
                "registration interval asked of the provider, seconds",
                minimum=60,
                maximum=86400,
            ),
            text(
                "default_extension",
                None,
                "extension ringing for incoming calls to no listed DID (null = refuse them)",
                pattern=EXTENSION_NUMBER,
                why="must be an extension number",
                max_length=20,
            ),
        ]
    ),
    {"codecs": _codecs, "dids": _dids},
    has_secret=True,
    required=("host",),
)
KINDS = {k.kind: k for k in (PICKUP_GROUP, ROUTING_CLASS, TRUNK)}
TRUNK_PASSWORD = text(
    "password",
    None,
    "authentication secret",
    pattern=ALNUM,
    why="must be alphanumeric",
    max_length=64,
)


def _parse(kind: Kind, body: Any, *, create: bool) -> tuple[str | None, dict[str, Any], Any]:
    body = require_object(body)
    check_keys(
        body,
        kind.keys,
        read_only={"id", "tenant", "revision", "created_at", "updated_at", "has_password"},
    )
    problems: list[FieldProblem] = []
    name = None
    if "name" in body or create:
        try:
            name = NAME.check(body.get("name"))
        except FieldInvalid as exc:
            problems.append(FieldProblem("name", str(exc)))
    data: dict[str, Any] = {}
    for path, f in kind.fields.fields.items():
        if path in body:
            try:
                data[path] = f.check(body[path])
            except FieldInvalid as exc:
                problems.append(FieldProblem(path, str(exc)))
        elif create:
            if path in kind.required:
                problems.append(FieldProblem(path, "is required"))
            data[path] = f.default
    for key, validate in kind.extra.items():
        if key in body:
            try:
                data[key] = validate(body[key])
            except ValidationFailed as exc:
                problems.extend(exc.problems)
        elif create:
            data[key] = []
    secret: Any = ...
    if kind.has_secret and "password" in body:
        try:
            secret = TRUNK_PASSWORD.check(body["password"])
        except FieldInvalid as exc:
            problems.append(FieldProblem("password", str(exc)))
    if problems:
        raise ValidationFailed("invalid " + kind.kind.replace("_", " "), problems)
    return name, data, secret


def defaults(kind: Kind) -> dict[str, Any]:
    """The document of a new entity; also fills attributes added after a row was stored."""
    out: dict[str, Any] = kind.fields.defaults()
    out.update({key: [] for key in kind.extra})
    return out


def view(kind: Kind, row: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"id": str(row["id"]), "tenant": row["tenant"], "name": row["name"]}
    out.update(defaults(kind))
    out.update(row["data"])
    if kind.has_secret:
        out["has_password"] = row["secret"] is not None
    out.update(
        revision=row["revision"],
        created_at=iso(row["created_at"]),
        updated_at=iso(row["updated_at"]),
    )
    return out


async def _check_extensions(conn: Any, tenant: str, data: dict[str, Any]) -> None:
    """A trunk's DIDs and default extension must name extensions of its tenant."""
    dids = data.get("dids") or []
    default = data.get("default_extension")
    wanted = {d["extension"] for d in dids} | ({default} if default else set())
    if not wanted:
        return
    found = {
        r["number"]
        for r in await conn.fetch(
            "SELECT number FROM extensions WHERE tenant = $1 AND number = ANY($2::text[])",
            tenant,
            sorted(wanted),
        )
    }
    problems = [
        FieldProblem(f"dids[{i}].extension", f"no extension {d['extension']} in this tenant")
        for i, d in enumerate(dids)
        if d["extension"] not in found
    ]
    if default and default not in found:
        problems.append(FieldProblem("default_extension", f"no extension {default} in this tenant"))
    if problems:
        raise ValidationFailed("unknown extension", problems)


async def trunk_referrers(conn: Any, tenant: str, number: str) -> list[dict[str, str]]:
    """Trunks that send incoming calls to extension ``number``, for 409 answers."""
    return [
        {"kind": "trunk", "id": str(r["id"]), "name": r["name"], "attribute": r["attribute"]}
        for r in await conn.fetch(
            "SELECT id, name, CASE WHEN data ->> 'default_extension' = $2 "
            "THEN 'default_extension' ELSE 'dids' END AS attribute "
            "FROM catalog WHERE tenant = $1 AND kind = 'trunk' AND "
            "(data -> 'dids' @> $3::jsonb OR data ->> 'default_extension' = $2) ORDER BY name",
            tenant,
            number,
            [{"extension": number}],
        )
    ]


async def _check_trunks(conn: Any, tenant: str, data: dict[str, Any]) -> None:
    wanted = {r["trunk_id"] for r in data.get("rules", []) if r["trunk_id"]}
    if not wanted:
        return
    found = {
        str(r["id"])
        for r in await conn.fetch(
            "SELECT id FROM catalog WHERE tenant = $1 AND kind = 'trunk' AND id = ANY($2::uuid[])",
            tenant,
            list(wanted),
        )
    }
    problems = [
        FieldProblem(f"rules[{i}].trunk_id", "no such trunk in this tenant")
        for i, r in enumerate(data["rules"])
        if r["trunk_id"] and r["trunk_id"] not in found
    ]
    if problems:
        raise ValidationFailed("unknown trunk", problems)


class Catalog:
    def __init__(self, box: SecretBox) -> None:
        self.box = box

    async def get_row(self, conn: Any, kind: Kind, tenant: str, entity_id: str) -> Any:
        try:
            uid = uuid.UUID(entity_id)
        except ValueError:
            row = await conn.fetchrow(
                "SELECT * FROM catalog WHERE tenant = $1 AND kind = $2 AND name = $3",
                tenant,
                kind.kind,
                entity_id,
            )
        else:
            row = await conn.fetchrow(
                "SELECT * FROM catalog WHERE tenant = $1 AND kind = $2 AND id = $3",
                tenant,
                kind.kind,
                uid,
            )
        if row is None:
            raise not_found(kind.kind, entity_id)
        return row

    async def create(self, conn: Any, kind: Kind, tenant: str, body: Any) -> dict[str, Any]:
        name, data, secret = _parse(kind, body, create=True)
        await _check_trunks(conn, tenant, data)
        await _check_extensions(conn, tenant, data)
        new_id = uuid.uuid4()
        enc = None if secret in (..., None) else self.box.encrypt(secret, str(new_id))
        try:
            row = await conn.fetchrow(
                "INSERT INTO catalog (id, tenant, kind, name, data, secret) "
                "VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
                new_id,
                tenant,
                kind.kind,
                name,
                data,
                enc,
            )
        except asyncpg.UniqueViolationError:
            raise Conflict(
                f"a {kind.kind.replace('_', ' ')} named {name!r} already exists"
            ) from None
        except asyncpg.ForeignKeyViolationError:
            raise not_found("tenant", tenant) from None
        await record_change(conn, tenant, kind.kind, str(new_id), "created", 1, name or "")
        return view(kind, row)

    async def update(
        self, conn: Any, kind: Kind, tenant: str, entity_id: str, body: Any, expected: int | None
    ) -> dict[str, Any]:
        name, data, secret = _parse(kind, body, create=False)
        row = await self.get_row(conn, kind, tenant, entity_id)
        row = await conn.fetchrow("SELECT * FROM catalog WHERE id = $1 FOR UPDATE", row["id"])
        check_revision(kind.kind, row["revision"], expected)
        merged = {**row["data"], **data}
        await _check_trunks(conn, tenant, merged)
        if {"dids", "default_extension"} & data.keys():
            await _check_extensions(conn, tenant, merged)
        enc = row["secret"]
        if secret is not ...:
            enc = None if secret is None else self.box.encrypt(secret, str(row["id"]))
        try:
            row = await conn.fetchrow(
                "UPDATE catalog SET name = $2, data = $3, secret = $4, revision = revision + 1, "
                "updated_at = now() WHERE id = $1 RETURNING *",
                row["id"],
                name or row["name"],
                merged,
                enc,
            )
        except asyncpg.UniqueViolationError:
            raise Conflict(
                f"a {kind.kind.replace('_', ' ')} named {name!r} already exists"
            ) from None
        await record_change(
            conn, tenant, kind.kind, str(row["id"]), "updated", row["revision"], row["name"]
        )
        return view(kind, row)

    async def delete(
        self, conn: Any, kind: Kind, tenant: str, entity_id: str, expected: int | None
    ) -> None:
        row = await self.get_row(conn, kind, tenant, entity_id)
        row = await conn.fetchrow("SELECT * FROM catalog WHERE id = $1 FOR UPDATE", row["id"])
        check_revision(kind.kind, row["revision"], expected)
        users = await referrers(conn, tenant, kind.kind, str(row["id"]))
        if users:
            raise Conflict(f"{kind.kind.replace('_', ' ')} {row['name']!r} is still in use", users)
        await conn.execute("DELETE FROM catalog WHERE id = $1", row["id"])
        await record_change(
            conn, tenant, kind.kind, str(row["id"]), "deleted", row["revision"] + 1, row["name"]
        )


# Which JSON attributes of items and templates hold references to which kind.
_REF_PATHS = {
    "routing_class": (("cos.standard_class", False), ("cos.restricted_class", False)),
    "pickup_group": (("pickup.member_of", True), ("pickup.authorised", True)),
}


async def referrers(conn: Any, tenant: str, kind: str, entity_id: str) -> list[dict[str, str]]:
    """Everything that references entity ``entity_id`` of ``kind``, for 409 answers."""
    out: list[dict[str, str]] = []
    for path, is_list in _REF_PATHS.get(kind, ()):
        cond = "{col} -> $2 ? $3" if is_list else "{col} ->> $2 = $3"
        for r in await conn.fetch(
            "SELECT id, number FROM extensions WHERE tenant = $1 AND "
            + cond.format(col="overrides"),
            tenant,
            path,
            entity_id,
        ):
            out.append(
                {"kind": "extension", "id": str(r["id"]), "name": r["number"], "attribute": path}
            )
        for r in await conn.fetch(
            "SELECT id, name FROM catalog WHERE tenant = $1 AND kind = 'extension_template' AND "
            + cond.format(col="data"),
            tenant,
            path,
            entity_id,
        ):
            out.append(
                {
                    "kind": "extension_template",
                    "id": str(r["id"]),
                    "name": r["name"],
                    "attribute": path,
                }
            )
    if kind == "trunk":
        for r in await conn.fetch(
            "SELECT id, name FROM catalog WHERE tenant = $1 AND kind = 'routing_class' AND "
            "data -> 'rules' @> $2::jsonb",
            tenant,
            [{"trunk_id": entity_id}],
        ):
            out.append(
                {
                    "kind": "routing_class",
                    "id": str(r["id"]),
                    "name": r["name"],
                    "attribute": "rules",
                }
            )
    if kind in ("extension_template", "account_template"):
        table, label = (
            ("extensions", "number") if kind == "extension_template" else ("accounts", "username")
        )
        for r in await conn.fetch(
            f"SELECT id, {label} AS name FROM {table} WHERE tenant = $1 AND template_id = $2",
            tenant,
            uuid.UUID(entity_id),
        ):
            out.append(
                {
                    "kind": table[:-1],
                    "id": str(r["id"]),
                    "name": r["name"],
                    "attribute": "template_id",
                }
            )
    return out
