"""Exports for funders: aggregated indicators of a programme, as JSON, CSV or XLSX."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator
from datetime import date
from typing import Any, Literal
from uuid import UUID

from litestar import Controller, Request, Response, get
from litestar.params import QueryParameter
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from api.messages import pick_language
from api.schemas.exports import ImpactExportOut
from domain import audit, exports
from domain.access import Actor
from domain.models import utcnow

CHUNK_BYTES = 64 * 1024
MEDIA_TYPES = {
    "csv": "text/csv",  # Litestar adds "; charset=utf-8"
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _disposition(report: exports.ImpactReport, extension: str) -> dict[str, str]:
    name = f"kringkas-impact-{report.period.from_on.isoformat()}-{report.period.to_on.isoformat()}.{extension}"
    return {"Content-Disposition": f'attachment; filename="{name}"'}


async def _xlsx_chunks(report: exports.ImpactReport, lang: str) -> AsyncIterator[bytes]:
    """Written by xlsxwriter (constant memory) to a temporary file, then streamed from it and removed."""
    handle, path = tempfile.mkstemp(prefix="kringkas-export-", suffix=".xlsx")
    os.close(handle)
    try:
        await asyncio.to_thread(exports.write_xlsx, report, lang, path)
        with open(path, "rb") as file:
            while chunk := await asyncio.to_thread(file.read, CHUNK_BYTES):
                yield chunk
    finally:
        os.unlink(path)


class ExportController(Controller):
    path = "/api/v1/exports"
    tags = ["funders"]

    @get("/impact", summary="Aggregated indicators of a programme for a period (funders, admins)",
         description="JSON by default; `format=csv` or `format=xlsx` streams a file. No names or ids of members, "
                     "users or groups; any figure about fewer than 5 people is suppressed, and so is any figure "
                     "from which one could be worked out. Every format carries the definitions and their version.")
    async def impact(
        self, db: AsyncSession, actor: Actor, request: Request[Any, Any, Any],
        programme_id: UUID,
        from_on: date = QueryParameter(name="from", description="First day of the period (local date, included)."),
        to_on: date = QueryParameter(name="to", description="Last day of the period (included); at most 60 months."),
        export_format: Literal["json", "csv", "xlsx"] = QueryParameter(name="format", default="json"),
    ) -> Response[ImpactExportOut]:
        lang = pick_language(request.headers.get("accept-language"))
        report = await exports.impact_report(db, actor, programme_id, from_on, to_on)
        await audit.record_event(db, actor, "export.made", "programme", programme_id, utcnow(), {
            "format": export_format, "from": from_on.isoformat(), "to": to_on.isoformat()})
        await db.commit()  # the trail of who exported what
        headers = {"Content-Language": lang}
        if export_format == "csv":
            return Stream(exports.csv_chunks(report, lang), media_type=MEDIA_TYPES["csv"],
                          headers={**_disposition(report, "csv"), **headers})
        if export_format == "xlsx":
            return Stream(_xlsx_chunks(report, lang), media_type=MEDIA_TYPES["xlsx"],
                          headers={**_disposition(report, "xlsx"), **headers})
        return Response(ImpactExportOut.of(exports.json_document(report, lang)), headers=headers)
