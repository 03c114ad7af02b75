"""The OpenAPI 3.1 document, generated from the route registry and the field tables."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from aiohttp import web

from centralino import __version__
from centralino_config_api.api.registry import Registry
from centralino_config_api.catalog import (
    CODEC,
    DID_NUMBER,
    EXTENSION_NUMBER,
    KINDS,
    MAX_CODECS,
    MAX_DIDS,
    NAME,
)
from centralino_config_api.inheritance import Source
from centralino_config_api.model import (
    ACCOUNT_PROPS,
    ACCOUNT_SETTINGS,
    EXTENSION_PROPS,
    EXTENSION_SETTINGS,
    NUMBERING_PLAN,
    SERVICE_CODES,
    SERVICE_PIN,
    SIP_PASSWORD,
    SIP_SETTINGS,
)
from centralino_config_api.tenants import TENANT_ID, TENANT_NAME
from centralino_config_api.users import FLAGS, PASSWORD, ROLE, USERNAME

STR = {"type": "string"}
NSTR = {"type": ["string", "null"]}
INT = {"type": "integer"}
TS = {"type": ["string", "null"], "format": "date-time"}
ID = {"type": "string", "format": "uuid"}
RESET = {
    "type": "array",
    "items": {"type": "string"},
    "description": "attribute paths (or prefixes, or *) to stop overriding: inherit again",
}


def _obj(
    props: dict[str, Any], required: list[str] | None = None, extra: bool = False
) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": extra}
    if required:
        out["required"] = required
    return out


def _leaves(fields: Any) -> dict[str, Any]:
    return {p: dict(f.schema, description=f.doc) for p, f in fields.fields.items()}


def _sources(fields: Any) -> dict[str, Any]:
    return _obj(
        {f.path: {"type": "string", "enum": [s.value for s in Source]} for f in fields.shareable}
    )


def _meta() -> dict[str, Any]:
    return {"id": ID, "tenant": STR, "revision": INT, "created_at": TS, "updated_at": TS}


@cache
def schemas() -> dict[str, Any]:
    ext_settings = EXTENSION_SETTINGS.json_schema(only_shareable=True, partial=False)
    acc_settings = ACCOUNT_SETTINGS.json_schema(only_shareable=True, partial=False)
    ext_partial = EXTENSION_SETTINGS.json_schema(only_shareable=True, partial=True)
    acc_partial = ACCOUNT_SETTINGS.json_schema(only_shareable=True, partial=True)
    warnings = {"type": "array", "items": STR}
    user_read = _obj(
        {
            "enabled": {"type": "boolean"},
            "id": ID,
            "username": STR,
            "role": STR,
            "gui_access": {"type": "boolean"},
            "cti_access": {"type": "boolean"},
        },
        ["enabled"],
    )
    user_write = _obj(
        {
            "enabled": {"type": "boolean"},
            "username": dict(USERNAME.schema),
            "password": dict(PASSWORD.schema),
            "gui_access": {"type": "boolean"},
            "cti_access": {"type": "boolean"},
        }
    )
    named = {"name": dict(NAME.schema), "description": NSTR}
    rule = _obj(
        {
            "pattern": STR,
            "action": {"type": "string", "enum": ["allow", "deny"]},
            "trunk_id": {"type": ["string", "null"], "format": "uuid"},
        },
        ["pattern", "action"],
    )
    trunk_fields = {
        **_leaves(KINDS["trunk"].fields),
        "codecs": {
            "type": "array",
            "items": {"type": "string", "pattern": f"^(?:{CODEC.pattern})$"},
            "maxItems": MAX_CODECS,
            "description": "codec names in preference order (empty: the media defaults)",
        },
        "dids": {
            "type": "array",
            "items": _obj(
                {
                    "number": {"type": "string", "pattern": f"^(?:{DID_NUMBER.pattern})$"},
                    "extension": {"type": "string", "pattern": f"^(?:{EXTENSION_NUMBER})$"},
                },
                ["number", "extension"],
            ),
            "maxItems": MAX_DIDS,
            "description": "incoming numbers (unique) and the extension each one rings",
        },
    }
    return {
        "Error": _obj(
            {
                "error": STR,
                "message": STR,
                "fields": {"type": "array", "items": _obj({"field": STR, "reason": STR})},
                "referenced_by": {
                    "type": "array",
                    "items": _obj({"kind": STR, "id": STR, "name": STR, "attribute": STR}),
                },
            },
            ["error", "message"],
            extra=True,
        ),
        "Login": _obj({"username": STR, "password": STR}, ["username", "password"]),
        "Token": _obj(
            {
                "token": STR,
                "token_type": STR,
                "role": STR,
                "tenant": NSTR,
                "expires_in": INT,
                "name": STR,
            },
            ["token"],
            extra=True,
        ),
        "ApiTokenRequest": _obj(
            {
                "name": {"type": "string", "minLength": 1, "maxLength": 64},
                "expires_in_days": {"type": ["integer", "null"], "minimum": 1, "maximum": 3650},
            },
            ["name"],
        ),
        "Me": _obj(
            {"user_id": STR, "username": STR, "role": STR, "tenant": NSTR, "extension_id": NSTR}
        ),
        "Tenant": _obj(
            {"id": STR, "name": STR, "revision": INT, "created_at": TS, "updated_at": TS}
        ),
        "TenantCreate": _obj(
            {"id": dict(TENANT_ID.schema), "name": dict(TENANT_NAME.schema)}, ["id", "name"]
        ),
        "TenantUpdate": _obj({"name": dict(TENANT_NAME.schema)}),
        "Extension": _obj(
            {
                **_meta(),
                **_leaves(EXTENSION_PROPS),
                "display_name": STR,
                "service_pin_set": {"type": "boolean"},
                "local_user": user_read,
                "template_id": NSTR,
                "settings": ext_settings,
                "sources": _sources(EXTENSION_SETTINGS),
                "warnings": warnings,
            }
        ),
        "ExtensionWrite": _obj(
            {
                **_leaves(EXTENSION_PROPS),
                "service_pin": dict(SERVICE_PIN.schema),
                "template_id": {"type": ["string", "null"], "format": "uuid"},
                "local_user": user_write,
                "settings": ext_partial,
                "reset": RESET,
            }
        ),
        "Account": _obj(
            {
                **_meta(),
                **_leaves(ACCOUNT_PROPS),
                "extension_id": ID,
                "template_id": NSTR,
                "settings": acc_settings,
                "sources": _sources(ACCOUNT_SETTINGS),
                "effective_transports": {"type": "array", "items": STR},
                "warnings": warnings,
            }
        ),
        "AccountWrite": _obj(
            {
                **_leaves(ACCOUNT_PROPS),
                "password": dict(SIP_PASSWORD.schema),
                "template_id": {"type": ["string", "null"], "format": "uuid"},
                "settings": acc_partial,
                "reset": RESET,
            }
        ),
        "ExtensionTemplate": _obj({**_meta(), **named, "settings": ext_partial}),
        "ExtensionTemplateWrite": _obj({**named, "settings": ext_partial, "reset": RESET}),
        "AccountTemplate": _obj({**_meta(), **named, "settings": acc_partial}),
        "AccountTemplateWrite": _obj({**named, "settings": acc_partial, "reset": RESET}),
        "PickupGroup": _obj({**_meta(), **named}),
        "PickupGroupWrite": _obj(named),
        "RoutingClass": _obj({**_meta(), **named, "rules": {"type": "array", "items": rule}}),
        "RoutingClassWrite": _obj({**named, "rules": {"type": "array", "items": rule}}),
        "Trunk": _obj({**_meta(), **named, **trunk_fields, "has_password": {"type": "boolean"}}),
        "TrunkWrite": _obj({**named, **trunk_fields, "password": NSTR}),
        "ServiceCodes": _obj({**_leaves(SERVICE_CODES), "revision": INT}),
        "ServiceCodesWrite": _obj(_leaves(SERVICE_CODES)),
        "NumberingPlan": _obj({**_leaves(NUMBERING_PLAN), "revision": INT}),
        "NumberingPlanWrite": _obj(_leaves(NUMBERING_PLAN)),
        "SipSettings": SIP_SETTINGS.json_schema(only_shareable=False, partial=False)
        | {"additionalProperties": True},
        "SipSettingsWrite": SIP_SETTINGS.json_schema(only_shareable=False, partial=True),
        "User": _obj(
            {
                "id": ID,
                "username": STR,
                "role": STR,
                "tenant": NSTR,
                "extension_id": NSTR,
                "enabled": {"type": "boolean"},
                "gui_access": {"type": "boolean"},
                "cti_access": {"type": "boolean"},
                "revision": INT,
                "created_at": TS,
                "updated_at": TS,
            }
        ),
        "UserWrite": _obj(
            {
                "username": dict(USERNAME.schema),
                "password": dict(PASSWORD.schema),
                "role": dict(ROLE.schema),
                "extension": NSTR,
                **{f.path: dict(f.schema) for f in FLAGS},
            }
        ),
        "ImportExtension": _obj(
            {
                **_leaves(EXTENSION_PROPS),
                "service_pin": dict(SERVICE_PIN.schema),
                "template": NSTR,
                "settings": ext_partial,
                "accounts": {
                    "type": "array",
                    "items": _obj(
                        {
                            "username": STR,
                            "password": STR,
                            "enabled": {"type": "boolean"},
                            "template": NSTR,
                            "settings": acc_partial,
                        }
                    ),
                },
            }
        ),
    }


_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Malformed request",
    401: "Not logged in",
    402: "Needs a licence this PBX does not hold",
    403: "Not allowed",
    404: "Not found",
    409: "Duplicate, or still referenced",
    412: "Changed since read (ETag)",
    422: "Invalid fields",
    428: "If-Match required",
    429: "Too many attempts",
    502: "Upstream service failed",
    503: "Upstream service unavailable",
}


def _error(code: int) -> dict[str, Any]:
    return {
        "description": _STATUS_TEXT[code],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _foreign(app: web.Application | None, reg: Registry, paths: dict[str, Any]) -> None:
    """Routes other modules mounted (licences): listed so the document stays complete;
    their bodies are described by those modules' own docs."""
    if app is None:
        return
    for route in app.router.routes():
        resource = route.resource
        if resource is None or route.method in ("HEAD", "*"):
            continue
        path = resource.canonical
        if reg.find(route.method, path) is not None:
            continue
        params = [
            {"name": n, "in": "path", "required": True, "schema": STR}
            for n in re.findall(r"{(\w+)}", path)
        ]
        op: dict[str, Any] = {
            "summary": (route.handler.__doc__ or "licensing").strip().splitlines()[0],
            "tags": ["licences"],
            "security": [{"bearer": []}],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                **{str(c): _error(c) for c in (400, 401, 403, 404, 409, 422, 502, 503)},
            },
        }
        if params:
            op["parameters"] = params
        if route.method in ("POST", "PUT", "PATCH"):
            op["requestBody"] = {
                "required": False,
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        paths.setdefault(path, {})[route.method.lower()] = op


_QUERY_BOUNDS = {
    "limit": {"type": "integer", "minimum": 1, "maximum": 500},
    "offset": {"type": "integer", "minimum": 0, "maximum": 10_000_000},
}


def document(reg: Registry, app: web.Application | None = None) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    _foreign(app, reg, paths)
    for r in reg.routes:
        params = [
            {"name": n, "in": "path", "required": True, "schema": STR}
            for n in re.findall(r"{(\w+)}", r.path)
        ]
        params += [
            {
                "name": n,
                "in": "query",
                "required": False,
                "description": d,
                "schema": _QUERY_BOUNDS.get(n, {"type": t}),
            }
            for n, t, d in r.query
        ]
        if r.conditional:
            params.append(
                {
                    "name": "If-Match",
                    "in": "header",
                    "required": True,
                    "description": "ETag of the last read, or *",
                    "schema": STR,
                }
            )
        op: dict[str, Any] = {
            "summary": r.summary,
            "tags": [r.tag],
            "operationId": f"{r.method.lower()}_{r.path}".replace("/", "_")
            .replace("{", "")
            .replace("}", "")
            .replace("-", "_"),
        }
        if params:
            op["parameters"] = params
        if r.request is not None:
            op["requestBody"] = {
                "required": True,
                "content": {
                    t: {"schema": r.request if t == "application/json" else {"type": "string"}}
                    for t in r.request_types
                },
            }
        ok: dict[str, Any] = {"description": _STATUS_TEXT[r.status]}
        if r.response is not None and r.status != 204:
            ok["content"] = {"application/json": {"schema": r.response}}
        responses: dict[str, Any] = {str(r.status): ok}
        codes = set(r.extra_responses)
        if r.request is not None:
            codes |= {400, 422}
        if r.query:
            codes.add(422)
        if r.access != "public":
            codes |= {401, 403}
        if "{" in r.path:
            codes.add(404)
        if r.conditional:
            codes |= {412, 428}
        for c in sorted(codes):
            responses[str(c)] = _error(c)
        op["responses"] = responses
        if r.access != "public":
            op["security"] = [{"bearer": []}]
        paths.setdefault(r.path, {})[r.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Centralino config-api",
            "version": __version__,
            "description": "Tenant-scoped admin API of the Centralino PBX. Writes need "
            "If-Match with the ETag of the last read; settings in request bodies are "
            "overrides of the template, 'reset' makes attributes inherit again.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
