"""DirectoryService over gRPC: phonebook search and the directory imports."""

from __future__ import annotations

import grpc

from centralino.v1 import directory_pb2, directory_pb2_grpc
from centralino_directory.ldapimport.scheduler import ImportReport, ImportScheduler
from centralino_directory.phonebook.contacts import Contact
from centralino_directory.phonebook.store import DirectoryStore

SERVICE_NAME = directory_pb2.DESCRIPTOR.services_by_name["DirectoryService"].full_name
MAX_RESULTS = 500


def contact_message(c: Contact) -> directory_pb2.Contact:
    return directory_pb2.Contact(
        id=c.id,
        display_name=c.name,
        first_name=c.first_name,
        last_name=c.last_name,
        telephone_number=c.telephone_number,
        mobile=c.mobile,
        mail=c.mail,
        organisation=c.organisation,
        department=c.department,
        source=c.source,
    )


def report_message(r: ImportReport) -> directory_pb2.ImportReport:
    return directory_pb2.ImportReport(
        name=r.source,
        tenant=r.tenant,
        started_unix_ms=int(r.started_unix * 1000),
        duration_ms=int(r.duration_seconds * 1000),
        ok=r.ok,
        error=r.error,
        incremental=r.incremental,
        fetched=r.fetched,
        total=r.total,
        added=list(r.changes.added),
        updated=list(r.changes.updated),
        removed=list(r.changes.removed),
    )


class DirectoryServicer(directory_pb2_grpc.DirectoryServiceServicer):
    def __init__(self, store: DirectoryStore, imports: ImportScheduler) -> None:
        self.store = store
        self.imports = imports

    async def Search(
        self, request: directory_pb2.SearchRequest, context: grpc.aio.ServicerContext
    ) -> directory_pb2.SearchResponse:
        if not request.tenant:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "tenant is required")
        if request.limit < 0:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "limit must be >= 0")
        limit = min(request.limit or MAX_RESULTS, MAX_RESULTS)
        found = self.store.search(request.tenant, request.query, limit)
        return directory_pb2.SearchResponse(contacts=[contact_message(c) for c in found])

    async def SyncImport(
        self, request: directory_pb2.SyncImportRequest, context: grpc.aio.ServicerContext
    ) -> directory_pb2.ImportReport:
        try:
            report = await self.imports.run_now(request.name)
        except KeyError:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no directory import {request.name!r}")
        return report_message(report)

    async def ListImports(
        self, request: directory_pb2.ListImportsRequest, context: grpc.aio.ServicerContext
    ) -> directory_pb2.ListImportsResponse:
        out = []
        for source in self.imports.sources:
            info = directory_pb2.ImportSourceInfo(
                name=source.name,
                tenant=source.tenant,
                url=source.url,
                base=source.base,
                interval_seconds=source.interval_seconds,
            )
            last = self.imports.last_report(source.name)
            if last is not None:
                info.last.CopyFrom(report_message(last))
            out.append(info)
        return directory_pb2.ListImportsResponse(imports=out)
