"""gRPC ConfigService: effective, template-merged look-ups for the other services.

Registrar: :meth:`GetAccount` by username (HA1s, ACL, flags, transports, codecs).
Router: :meth:`GetExtension` by tenant + number, :meth:`ListExtensionAccounts`, classes,
trunks (with their DIDs), service codes, the numbering plan and pickup groups. Callers cache
and drop entries on ConfigChanged.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
import grpc

from centralino.v1 import config_pb2, config_pb2_grpc
from centralino_config_api import accounts, extensions, singletons
from centralino_config_api.catalog import TRUNK, Catalog
from centralino_config_api.catalog import defaults as catalog_defaults
from centralino_config_api.crypto import SecretKeyError, ha1
from centralino_config_api.errors import ConfigError, NotFound
from centralino_config_api.fields import nest
from centralino_config_api.rules import visible

SERVICE_NAME = config_pb2.DESCRIPTOR.services_by_name["ConfigService"].full_name
T = TypeVar("T")

_TRANSPORT = {
    "udp": config_pb2.UDP,
    "tcp": config_pb2.TCP,
    "tls": config_pb2.TLS,
    "ws": config_pb2.WS,
    "wss": config_pb2.WSS,
}


def account_message(row: Any, password: str, sip: dict[str, Any]) -> config_pb2.Account:
    eff = accounts.effective(row).values
    enabled = singletons.enabled_transports(sip)
    realm = sip["realm"]
    proxy = eff["outbound_proxy.address"]
    return config_pb2.Account(
        tenant=row["tenant"],
        id=str(row["id"]),
        username=row["username"],
        enabled=row["props"].get("enabled", True),
        extension_number=row["extension_number"],
        extension_enabled=row["ext_props"].get("enabled", True),
        extension_id=str(row["extension_id"]),
        display_name=extensions.display_name(row["extension_number"], row["ext_props"]),
        secrets=[
            config_pb2.DigestSecret(
                realm=realm, algorithm=alg, ha1=ha1(row["username"], realm, password, alg)
            )
            for alg in ("MD5", "SHA-256")
        ],
        acl_address=eff["acl.address"] or "",
        acl_netmask=eff["acl.netmask"] or "",
        nat=eff["nat"],
        registration_check=eff["registration_check"],
        direct_media=eff["direct_media"],
        srtp=eff["srtp"],
        transports=[_TRANSPORT[t] for t in eff["transports"] if t in enabled],
        audio_codecs=eff["audio_codecs"],
        video_codecs=eff["video_codecs"],
        push_enabled=eff["push_enabled"],
        revision=row["revision"],
        outbound_proxy_address=proxy or "",
        outbound_proxy_port=(eff["outbound_proxy.port"] or 0) if proxy else 0,
        outbound_proxy_transport=(
            _TRANSPORT[eff["outbound_proxy.protocol"]]
            if proxy
            else config_pb2.TRANSPORT_UNSPECIFIED
        ),
        settings_json=json.dumps(nest(eff)).encode(),
    )


def extension_message(row: Any) -> config_pb2.Extension:
    props = row["props"]
    eff = visible(extensions.effective(row).values)
    doc = {
        "number": row["number"],
        **props,
        "template_id": str(row["template_id"] or ""),
        "settings": nest(eff),
    }
    return config_pb2.Extension(
        tenant=row["tenant"],
        id=str(row["id"]),
        number=row["number"],
        enabled=props.get("enabled", True),
        display_name=extensions.display_name(row["number"], props),
        call_limit=eff["limits.call_limit"],
        busy_level=eff["limits.busy_level"],
        settings_json=json.dumps(doc).encode(),
        revision=row["revision"],
        standard_class_id=eff["cos.standard_class"] or "",
        restricted_class_id=eff["cos.restricted_class"] or "",
        voicemail_enabled=bool(eff["voicemail.enabled"] and eff["voicemail.active"]),
        mobile=props.get("mobile") or "",
        email=props.get("email") or "",
    )


ACCOUNT_BY_USERNAME = (
    "SELECT a.*, e.number AS extension_number, e.props AS ext_props, t.data AS template_data "
    "FROM accounts a JOIN extensions e ON e.id = a.extension_id "
    "LEFT JOIN catalog t ON t.id = a.template_id WHERE a.username = $1"
)
ACCOUNTS_OF_EXTENSION = (
    "SELECT a.*, e.number AS extension_number, e.props AS ext_props, t.data AS template_data "
    "FROM accounts a JOIN extensions e ON e.id = a.extension_id "
    "LEFT JOIN catalog t ON t.id = a.template_id WHERE e.tenant = $1 AND e.number = $2 "
    "ORDER BY a.username"
)


class ConfigServicer(config_pb2_grpc.ConfigServiceServicer):
    def __init__(
        self,
        pool: asyncpg.Pool,
        ext: extensions.Extensions,
        acc: accounts.Accounts,
        catalog: Catalog,
    ) -> None:
        self.pool = pool
        self.ext = ext
        self.acc = acc
        self.catalog = catalog

    async def _call(
        self, context: grpc.aio.ServicerContext, body: Callable[[Any], Awaitable[T]]
    ) -> T:
        try:
            async with self.pool.acquire() as conn:
                return await body(conn)
        except ConfigError as exc:
            await context.abort(exc.grpc_code, exc.message)
        except SecretKeyError as exc:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        except asyncpg.DataError as exc:  # e.g. NUL bytes in a key: the caller's garbage
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"invalid request: {exc}")
        raise AssertionError("abort() returns only by raising")

    async def GetAccount(
        self, request: config_pb2.GetAccountRequest, context: grpc.aio.ServicerContext
    ) -> config_pb2.Account:
        async def body(conn: Any) -> config_pb2.Account:
            row = await conn.fetchrow(ACCOUNT_BY_USERNAME, request.username)
            if row is None:
                raise NotFound(f"no SIP account {request.username!r}")
            sip, _ = await singletons.load(conn, singletons.SIP)
            return account_message(row, self.acc.password(row), sip)

        return await self._call(context, body)

    async def GetExtension(
        self, request: config_pb2.GetExtensionRequest, context: grpc.aio.ServicerContext
    ) -> config_pb2.Extension:
        async def body(conn: Any) -> config_pb2.Extension:
            row = await conn.fetchrow(
                f"{extensions.SELECT} AND e.number = $2", request.tenant, request.number
            )
            if row is None:
                raise NotFound(f"no extension {request.number!r} in tenant {request.tenant!r}")
            return extension_message(row)

        return await self._call(context, body)

    async def ListExtensionAccounts(
        self, request: config_pb2.GetExtensionRequest, context: grpc.aio.ServicerContext
    ) -> config_pb2.AccountList:
        async def body(conn: Any) -> config_pb2.AccountList:
            exists = await conn.fetchval(
                "SELECT 1 FROM extensions WHERE tenant = $1 AND number = $2",
                request.tenant,
                request.number,
            )
            if not exists:
                raise NotFound(f"no extension {request.number!r} in tenant {request.tenant!r}")
            sip, _ = await singletons.load(conn, singletons.SIP)
            rows = await conn.fetch(ACCOUNTS_OF_EXTENSION, request.tenant, request.number)
            return config_pb2.AccountList(
                accounts=[account_message(r, self.acc.password(r), sip) for r in rows]
            )

        return await self._call(context, body)

    async def GetSipSettings(
        self, request: config_pb2.GetSipSettingsRequest, context: grpc.aio.ServicerContext
    ) -> config_pb2.SipSettings:
        async def body(conn: Any) -> config_pb2.SipSettings:
            sip, revision = await singletons.load(conn, singletons.SIP)
            enabled = singletons.enabled_transports(sip)
            return config_pb2.SipSettings(
                enabled_transports=[_TRANSPORT[t] for t in enabled],
                realm=sip["realm"],
                min_expires=sip["registration.min_expires"],
                max_expires=sip["registration.max_expires"],
                default_expires=sip["registration.default_expires"],
                ports=[
                    config_pb2.TransportPort(
                        transport=_TRANSPORT[t], port=sip[f"transports.{t}.port"]
                    )
                    for t in enabled
                ],
                revision=revision,
            )

        return await self._call(context, body)

    async def ListRoutingClasses(
        self, request: config_pb2.TenantRequest, context: grpc.aio.ServicerContext
    ) -> config_pb2.RoutingClassList:
        async def body(conn: Any) -> config_pb2.RoutingClassList:
            rows = await conn.fetch(
                "SELECT * FROM catalog WHERE tenant = $1 AND kind = 'routing_class' ORDER BY name",
                request.tenant,
            )
            return config_pb2.RoutingClassList(
                classes=[
                    config_pb2.RoutingClass(
                        id=str(r["id"]),
                        name=r["name"],
                        revision=r["revision"],
                        rules=[
                            config_pb2.RoutingRule(
                                pattern=x["pattern"],
                                allow=x["action"] == "allow",
                                trunk_id=x["trunk_id"] or "",
                            )
                            for x in r["data"].get("rules", [])
                        ],
                    )
                    for r in rows
                ]
            )

        return await self._call(context, body)

    async def ListTrunks(
        self, request: config_pb2.TenantRequest, context: grpc.aio.ServicerContext
    ) -> config_pb2.TrunkList:
        async def body(conn: Any) -> config_pb2.TrunkList:
            rows = await conn.fetch(
                "SELECT * FROM catalog WHERE tenant = $1 AND kind = 'trunk' ORDER BY name",
                request.tenant,
            )
            out = []
            for r in rows:
                # rows stored before a field existed read as its default, as over REST
                d = {**catalog_defaults(TRUNK), **r["data"]}
                secret = (
                    self.catalog.box.decrypt(r["secret"], str(r["id"]))
                    if r["secret"] is not None
                    else ""
                )
                out.append(
                    config_pb2.Trunk(
                        id=str(r["id"]),
                        name=r["name"],
                        enabled=d["enabled"],
                        host=d["host"] or "",
                        port=d["port"],
                        transport=_TRANSPORT[d["transport"]],
                        username=d["username"] or "",
                        password=secret,
                        register=d["register"],
                        revision=r["revision"],
                        outbound_proxy_host=d["outbound_proxy"] or "",
                        outbound_proxy_port=d["outbound_proxy_port"] if d["outbound_proxy"] else 0,
                        expires=d["expires"],
                        codecs=d["codecs"],
                        dids=[
                            config_pb2.Did(number=x["number"], extension=x["extension"])
                            for x in d["dids"]
                        ],
                        default_extension=d["default_extension"] or "",
                    )
                )
            return config_pb2.TrunkList(trunks=out)

        return await self._call(context, body)

    async def GetServiceCodes(
        self, request: config_pb2.TenantRequest, context: grpc.aio.ServicerContext
    ) -> config_pb2.ServiceCodes:
        async def body(conn: Any) -> config_pb2.ServiceCodes:
            codes, revision = await singletons.load(conn, singletons.CODES, request.tenant)
            return config_pb2.ServiceCodes(revision=revision, **codes)

        return await self._call(context, body)

    async def GetNumberingPlan(
        self, request: config_pb2.TenantRequest, context: grpc.aio.ServicerContext
    ) -> config_pb2.NumberingPlan:
        async def body(conn: Any) -> config_pb2.NumberingPlan:
            plan, revision = await singletons.load(conn, singletons.PLAN, request.tenant)
            return config_pb2.NumberingPlan(revision=revision, **plan)

        return await self._call(context, body)

    async def ListPickupGroups(
        self, request: config_pb2.TenantRequest, context: grpc.aio.ServicerContext
    ) -> config_pb2.PickupGroupList:
        async def body(conn: Any) -> config_pb2.PickupGroupList:
            groups = await conn.fetch(
                "SELECT id, name FROM catalog WHERE tenant = $1 AND kind = 'pickup_group' "
                "ORDER BY name",
                request.tenant,
            )
            rows = await conn.fetch(f"{extensions.SELECT}", request.tenant)
            members: dict[str, list[str]] = {}
            authorised: dict[str, list[str]] = {}
            for r in rows:
                eff = extensions.effective(r).values
                for g in eff["pickup.member_of"]:
                    members.setdefault(g, []).append(r["number"])
                for g in eff["pickup.authorised"]:
                    authorised.setdefault(g, []).append(r["number"])
            return config_pb2.PickupGroupList(
                groups=[
                    config_pb2.PickupGroup(
                        id=str(g["id"]),
                        name=g["name"],
                        member_numbers=sorted(members.get(str(g["id"]), [])),
                        authorised_numbers=sorted(authorised.get(str(g["id"]), [])),
                    )
                    for g in groups
                ]
            )

        return await self._call(context, body)

    async def ListExtensions(
        self, request: config_pb2.ListExtensionsRequest, context: grpc.aio.ServicerContext
    ) -> config_pb2.ExtensionList:
        size = request.page_size or 500
        if not 1 <= size <= 1000:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "page_size must be 1..1000")
        after_tenant, sep, after_number = request.page_token.partition("/")
        if request.page_token and not sep:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "malformed page_token")

        async def body(conn: Any) -> config_pb2.ExtensionList:
            # keyset pagination on (tenant, number): stable while extensions are added
            rows = await conn.fetch(
                extensions.SELECT.replace("WHERE e.tenant = $1", "WHERE ($1 = '' OR e.tenant = $1)")
                + " AND (e.tenant, e.number) > ($2, $3) ORDER BY e.tenant, e.number LIMIT $4",
                request.tenant,
                after_tenant,
                after_number,
                size,
            )
            token = f"{rows[-1]['tenant']}/{rows[-1]['number']}" if len(rows) == size else ""
            return config_pb2.ExtensionList(
                extensions=[extension_message(r) for r in rows], next_page_token=token
            )

        return await self._call(context, body)

    async def ListTenants(
        self, request: config_pb2.ListTenantsRequest, context: grpc.aio.ServicerContext
    ) -> config_pb2.TenantList:
        async def body(conn: Any) -> config_pb2.TenantList:
            rows = await conn.fetch("SELECT id, name, revision FROM tenants ORDER BY id")
            return config_pb2.TenantList(
                tenants=[
                    config_pb2.Tenant(id=r["id"], name=r["name"], revision=r["revision"])
                    for r in rows
                ]
            )

        return await self._call(context, body)

    async def VerifyServicePin(
        self, request: config_pb2.VerifyServicePinRequest, context: grpc.aio.ServicerContext
    ) -> config_pb2.VerifyServicePinResponse:
        async def body(conn: Any) -> config_pb2.VerifyServicePinResponse:
            ok = await self.ext.verify_pin(conn, request.tenant, request.number, request.pin)
            return config_pb2.VerifyServicePinResponse(ok=ok)

        return await self._call(context, body)
