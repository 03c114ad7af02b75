"""The ``/api/v1/licenses…`` REST surface: PBX administrators only, backed by the licensing
service's gRPC ``LicensingService``.

Mounting::

    from centralino_config_api import licences_routes
    licences_routes.add_routes(app.router, settings.grpc_address("licensing"))

``add_routes(router: aiohttp.web.UrlDispatcher, licensing_address: str) -> None`` adds the
routes below. For convenience it also accepts the ``web.Application`` itself (then the gRPC
channel is closed on the app's cleanup) and, when ``licensing_address`` is omitted, uses
``CENTRALINO_LICENSING_GRPC`` (see :func:`centralino.settings.grpc_address`).

Authentication is the mounting app's job: its middleware must put the caller's principal in
``request["principal"]`` (any object with a ``role`` attribute). Every handler here answers
401 without a principal and 403 unless ``role == "admin"``.

Routes (requirement IDs in brackets)::

    GET    /api/v1/licenses                               licence list [LIC-01, LIC-02]
    POST   /api/v1/licenses            {"key"}            activate [LIC-03, LIC-04]
    DELETE /api/v1/licenses/{id}                          remove
    GET    /api/v1/licenses/features/{product}?tenant=&user=   is it granted [LIC-07]
    GET    /api/v1/licenses/assignments?product=          CTI seats [USR-06]
    POST   /api/v1/licenses/assignments {"product","tenant","user"}
    DELETE /api/v1/licenses/assignments/{product}/{tenant}/{user}
    GET    /api/v1/licenses/server                        the three lists [LIC-05, LIC-06]
    POST   /api/v1/licenses/server/import                 import the automatic ones
    GET    /api/v1/licenses/g729                          G.729 list [G729-01, G729-04]
    GET    /api/v1/licenses/g729/pool                     {"total","in_use"}
    GET    /api/v1/licenses/g729/{id}/download            the licence file
    POST   /api/v1/licenses/g729/activations {"key"}      step 1 [G729-02]
    POST   /api/v1/licenses/g729/activations/{aid}/terms {"accepted","terms_version"}  step 2
    POST   /api/v1/licenses/g729/activations/{aid}/personal-data
           {"full_name","company","email","country"}      step 3
    POST   /api/v1/licenses/g729/activations/{aid}/activate                [G729-03]

Errors are ``{"error": <reason>, "message": <why>}``: 400 bad JSON, 401/403 auth, 404 unknown,
409 duplicate / step out of order / no channel left, 422 refused key or field, 502 the
licence server failed, 503 the licensing service is unreachable.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import grpc
from aiohttp import web

from centralino.grpcserver import channel as grpc_channel
from centralino.settings import grpc_address
from centralino.v1 import licensing_pb2 as pb
from centralino.v1 import licensing_pb2_grpc

PREFIX = "/api/v1/licenses"
REASON_KEY = "centralino-reason"
# Import waits for the licence server (its own timeout is 5 s by default) and then activates.
CALL_TIMEOUT = 20.0
MAX_FIELD = 4096

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 422,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 409,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}


class RestError(Exception):
    """A request this surface refuses before calling the licensing service."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message


def _problem(status: int, error: str, message: str) -> web.Response:
    return web.json_response({"error": error, "message": message}, status=status)


def _from_grpc(exc: grpc.aio.AioRpcError) -> web.Response:
    # grpc.aio yields (key, value) pairs; the stubs type them as a metadatum class.
    metadata: Iterable[tuple[str, str | bytes]] = exc.trailing_metadata() or ()  # type: ignore[assignment]
    reason = next((str(v) for k, v in metadata if k == REASON_KEY), "")
    code = exc.code()
    if code == grpc.StatusCode.UNAVAILABLE:
        # The licensing service tags licence-server failures; anything else means the
        # licensing service itself could not be reached.
        status = 502 if reason.startswith("server_") else 503
    else:
        status = _STATUS.get(code, 500)
    error = reason or code.name.lower()
    message = exc.details() or code.name
    if status == 503 and not reason:
        error, message = "licensing_unavailable", f"the licensing service is unreachable: {message}"
    return _problem(status, error, message)


def _iso(unix_ms: int) -> str | None:
    if not unix_ms:
        return None
    return datetime.fromtimestamp(unix_ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def _licence(lic: pb.Licence) -> dict[str, Any]:
    return {
        "id": lic.id,
        "key": lic.key,
        "product": lic.product,
        "product_name": lic.product_name,
        "activation_date": _iso(lic.activated_unix_ms),
        "expiry_date": _iso(lic.expires_unix_ms),
        "channels": lic.channels,
        "valid": lic.valid,
    }


def _g729(lic: pb.G729Licence) -> dict[str, Any]:
    return {
        "id": lic.id,
        "key": lic.key,
        "channels": lic.channels,
        "expiry_date": _iso(lic.expires_unix_ms),
        "activation_date": _iso(lic.activated_unix_ms),
        "valid": lic.valid,
        "download": f"{PREFIX}/g729/{lic.id}/download",
    }


def _activation(step: pb.G729Activation) -> dict[str, Any]:
    return {
        "activation_id": step.activation_id,
        "next_step": step.next_step,
        "key": step.key,
        "channels": step.channels,
        "expiry_date": _iso(step.expires_unix_ms),
        "terms": {"version": step.terms_version, "text": step.terms_text},
    }


def _offered(item: pb.ServerLicence) -> dict[str, Any]:
    return {
        "id": item.id or None,
        "key": item.key,
        "product": item.product or None,
        "channels": item.channels or None,
        "expiry_date": _iso(item.expires_unix_ms),
        "reason": item.reason,
    }


def _assignment(seat: pb.Assignment) -> dict[str, str]:
    return {"product": seat.product, "tenant": seat.tenant, "user": seat.user}


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RestError(400, "bad_request", "the body is not JSON") from None
    if not isinstance(data, dict):
        raise RestError(400, "bad_request", "the body must be a JSON object")
    return data


def _text(data: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = data.get(name, "")
    if not isinstance(value, str) or len(value) > MAX_FIELD:
        raise RestError(422, "validation_failed", f"{name} must be a string")
    if required and not value.strip():
        raise RestError(422, "validation_failed", f"{name} is required")
    return value


class LicencesApi:
    def __init__(self, address: str) -> None:
        self.address = address
        self._channel: grpc.aio.Channel | None = None
        self._stub: licensing_pb2_grpc.LicensingServiceStub | None = None

    @property
    def stub(self) -> licensing_pb2_grpc.LicensingServiceStub:
        # Created on first use: a grpc.aio channel belongs to the running event loop.
        if self._stub is None:
            self._channel = grpc_channel(self.address)
            self._stub = licensing_pb2_grpc.LicensingServiceStub(self._channel)
        return self._stub

    async def close(self, _app: web.Application | None = None) -> None:
        if self._channel is not None:
            await self._channel.close(grace=None)
            self._channel = self._stub = None

    def guarded(self, handler: Handler) -> Handler:
        async def wrapper(request: web.Request) -> web.StreamResponse:
            principal = request.get("principal")
            if principal is None:
                return _problem(401, "unauthorized", "log in first")
            if getattr(principal, "role", None) != "admin":
                return _problem(403, "forbidden", "only PBX administrators may manage licences")
            try:
                return await handler(request)
            except RestError as exc:
                return _problem(exc.status, exc.error, exc.message)
            except grpc.aio.AioRpcError as exc:
                return _from_grpc(exc)

        return wrapper

    async def list_licences(self, request: web.Request) -> web.Response:
        reply = await self.stub.ListLicences(pb.ListLicencesRequest(), timeout=CALL_TIMEOUT)
        return web.json_response({"licences": [_licence(lic) for lic in reply.licences]})

    async def activate(self, request: web.Request) -> web.Response:
        key = _text(await _body(request), "key")
        lic = await self.stub.ActivateLicence(
            pb.ActivateLicenceRequest(key=key), timeout=CALL_TIMEOUT
        )
        return web.json_response(_licence(lic), status=201)

    async def remove(self, request: web.Request) -> web.Response:
        await self.stub.RemoveLicence(
            pb.LicenceRef(id=request.match_info["id"]), timeout=CALL_TIMEOUT
        )
        return web.Response(status=204)

    async def feature(self, request: web.Request) -> web.Response:
        reply = await self.stub.CheckFeature(
            pb.CheckFeatureRequest(
                product=request.match_info["product"],
                tenant=request.query.get("tenant", ""),
                user=request.query.get("user", ""),
            ),
            timeout=CALL_TIMEOUT,
        )
        return web.json_response(
            {"granted": reply.granted, "reason": reply.reason, "channels": reply.channels}
        )

    async def assignments(self, request: web.Request) -> web.Response:
        reply = await self.stub.ListAssignments(
            pb.ListAssignmentsRequest(product=request.query.get("product", "")),
            timeout=CALL_TIMEOUT,
        )
        return web.json_response({"assignments": [_assignment(a) for a in reply.assignments]})

    async def assign(self, request: web.Request) -> web.Response:
        data = await _body(request)
        seat = pb.Assignment(
            product=_text(data, "product"), tenant=_text(data, "tenant"), user=_text(data, "user")
        )
        await self.stub.AssignLicence(seat, timeout=CALL_TIMEOUT)
        return web.json_response(_assignment(seat), status=201)

    async def unassign(self, request: web.Request) -> web.Response:
        info = request.match_info
        reply = await self.stub.UnassignLicence(
            pb.Assignment(product=info["product"], tenant=info["tenant"], user=info["user"]),
            timeout=CALL_TIMEOUT,
        )
        if not reply.removed:
            return _problem(404, "unknown_assignment", "that user holds no such licence")
        return web.Response(status=204)

    async def server_lists(self, request: web.Request) -> web.Response:
        reply = await self.stub.RetrieveFromServer(
            pb.RetrieveFromServerRequest(), timeout=CALL_TIMEOUT
        )
        return web.json_response(
            {
                "serial": reply.serial,
                "updated": [_offered(o) for o in reply.updated],
                "automatic": [_offered(o) for o in reply.automatic],
                "manual": [_offered(o) for o in reply.manual],
                "rejected": [_offered(o) for o in reply.rejected],
            }
        )

    async def server_import(self, request: web.Request) -> web.Response:
        reply = await self.stub.ImportAutomatic(
            pb.RetrieveFromServerRequest(), timeout=CALL_TIMEOUT
        )
        return web.json_response(
            {
                "imported": [_licence(lic) for lic in reply.imported],
                "failed": [_offered(o) for o in reply.failed],
            }
        )

    async def g729_list(self, request: web.Request) -> web.Response:
        reply = await self.stub.ListG729Licences(pb.ListLicencesRequest(), timeout=CALL_TIMEOUT)
        return web.json_response({"licences": [_g729(lic) for lic in reply.licences]})

    async def g729_pool(self, request: web.Request) -> web.Response:
        reply = await self.stub.PoolStatus(pb.PoolStatusRequest(pool="g729"), timeout=CALL_TIMEOUT)
        return web.json_response({"total": reply.total, "in_use": reply.in_use})

    async def g729_download(self, request: web.Request) -> web.Response:
        document = await self.stub.DownloadG729Licence(
            pb.LicenceRef(id=request.match_info["id"]), timeout=CALL_TIMEOUT
        )
        return web.Response(
            body=document.content,
            content_type=document.content_type,
            headers={"Content-Disposition": f'attachment; filename="{document.filename}"'},
        )

    async def g729_start(self, request: web.Request) -> web.Response:
        key = _text(await _body(request), "key")
        step = await self.stub.StartG729Activation(
            pb.StartG729ActivationRequest(key=key), timeout=CALL_TIMEOUT
        )
        return web.json_response(_activation(step), status=201)

    async def g729_terms(self, request: web.Request) -> web.Response:
        data = await _body(request)
        accepted = data.get("accepted")
        if not isinstance(accepted, bool):
            raise RestError(422, "validation_failed", "accepted must be true or false")
        step = await self.stub.AcceptG729Terms(
            pb.AcceptG729TermsRequest(
                activation_id=request.match_info["aid"],
                accepted=accepted,
                terms_version=_text(data, "terms_version"),
            ),
            timeout=CALL_TIMEOUT,
        )
        return web.json_response(_activation(step))

    async def g729_personal_data(self, request: web.Request) -> web.Response:
        data = await _body(request)
        personal = pb.PersonalData(
            full_name=_text(data, "full_name"),
            company=_text(data, "company", required=False),
            email=_text(data, "email"),
            country=_text(data, "country"),
        )
        step = await self.stub.SubmitG729PersonalData(
            pb.SubmitG729PersonalDataRequest(
                activation_id=request.match_info["aid"], personal_data=personal
            ),
            timeout=CALL_TIMEOUT,
        )
        return web.json_response(_activation(step))

    async def g729_activate(self, request: web.Request) -> web.Response:
        lic = await self.stub.CompleteG729Activation(
            pb.G729ActivationRef(activation_id=request.match_info["aid"]), timeout=CALL_TIMEOUT
        )
        return web.json_response(_g729(lic), status=201)


def add_routes(
    router: web.UrlDispatcher | web.Application, licensing_address: str | None = None
) -> None:
    """Add the licence routes (admin only) calling LicensingService at ``licensing_address``."""
    api = LicencesApi(licensing_address or grpc_address("licensing"))
    if isinstance(router, web.Application):
        router.on_cleanup.append(api.close)
        router = router.router
    g = api.guarded
    activations = f"{PREFIX}/g729/activations"
    router.add_get(PREFIX, g(api.list_licences))
    router.add_post(PREFIX, g(api.activate))
    router.add_get(f"{PREFIX}/features/{{product}}", g(api.feature))
    router.add_get(f"{PREFIX}/assignments", g(api.assignments))
    router.add_post(f"{PREFIX}/assignments", g(api.assign))
    router.add_delete(f"{PREFIX}/assignments/{{product}}/{{tenant}}/{{user}}", g(api.unassign))
    router.add_get(f"{PREFIX}/server", g(api.server_lists))
    router.add_post(f"{PREFIX}/server/import", g(api.server_import))
    router.add_get(f"{PREFIX}/g729", g(api.g729_list))
    router.add_get(f"{PREFIX}/g729/pool", g(api.g729_pool))
    router.add_get(f"{PREFIX}/g729/{{id}}/download", g(api.g729_download))
    router.add_post(activations, g(api.g729_start))
    router.add_post(f"{activations}/{{aid}}/terms", g(api.g729_terms))
    router.add_post(f"{activations}/{{aid}}/personal-data", g(api.g729_personal_data))
    router.add_post(f"{activations}/{{aid}}/activate", g(api.g729_activate))
    router.add_delete(f"{PREFIX}/{{id}}", g(api.remove))
