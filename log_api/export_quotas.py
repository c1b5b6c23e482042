"""Export quotas over every replica: the bytes of the jobs in ``<prefix>_state``
(``export_quota_bytes_per_token``, ``export_quota_bytes_total``)."""

from __future__ import annotations

import time
from typing import Any

from log_api.archive import job_key
from log_api.errors import TooManyRequests
from log_api.settings import ApiSettings
from log_api.shared import StateIndex


class QuotaExceeded(Exception):
    """An export's archive would pass a quota: the job fails with this message."""


class ExportQuotas:
    def __init__(self, settings: ApiSettings, index: StateIndex) -> None:
        self.settings = settings
        self.index = index

    async def usage(self, token: str | None, without: str | None = None,
                     ) -> tuple[int, int, float | None, float | None]:
        """Bytes held by ``token``'s jobs and by all (not expired, ``without`` left out),
        and when the first finished archive of each expires (frees its bytes)."""
        now = time.time()
        query: dict[str, Any] = {"bool": {
            "filter": [{"term": {"kind": "job"}}],
            "must_not": [{"range": {"expires": {"lt": now}}}]
            + ([{"ids": {"values": [job_key(without)]}}] if without else [])}}
        mine = {"term": {"token": token or ""}}
        finished = {"bool": {"filter": [{"exists": {"field": "expires"}},
                                        {"range": {"bytes": {"gt": 0}}}]}}
        resp = await self.index.search(query, size=0, aggs={
            "all": {"sum": {"field": "bytes"}},
            "all_first": {"filter": finished, "aggs": {"e": {"min": {"field": "expires"}}}},
            "mine": {"filter": mine, "aggs": {
                "b": {"sum": {"field": "bytes"}},
                "first": {"filter": finished, "aggs": {"e": {"min": {"field": "expires"}}}}}},
        })
        a = resp["aggregations"]
        return (int(a["mine"]["b"]["value"]), int(a["all"]["value"]),
                a["mine"]["first"]["e"]["value"], a["all_first"]["e"]["value"])

    @staticmethod
    def retry_after(first_expiry: float | None) -> float:
        return max(1.0, first_expiry - time.time()) if first_expiry else 60.0

    async def check_new(self, token: str) -> None:
        mine, total, mine_first, all_first = await self.usage(token)
        quota = self.settings.export_quota_bytes_per_token
        if quota is not None and mine >= quota:
            raise TooManyRequests(
                f"this token's export archives take {mine:,} bytes, its quota "
                f"(export_quota_bytes_per_token) is {quota:,}: delete finished ones "
                "(DELETE /api/v1/exports/{id}) or wait until they expire",
                self.retry_after(mine_first))
        total_quota = self.settings.export_quota_bytes_total
        if total_quota is not None and total >= total_quota:
            raise TooManyRequests(
                f"export archives take {total:,} bytes, the quota of this API "
                f"(export_quota_bytes_total) is {total_quota:,}; try again later",
                self.retry_after(all_first))

    async def check_running(self, src: dict[str, Any]) -> None:
        quota = self.settings.export_quota_bytes_per_token
        total_quota = self.settings.export_quota_bytes_total
        if quota is None and total_quota is None:
            return
        # Other jobs as of the last refresh (a second at most), this one exactly.
        others_mine, others, _, _ = await self.usage(src["token"], without=src["job"])
        if quota is not None and others_mine + src["bytes"] > quota:
            raise QuotaExceeded(f"stopped: this token's export archives passed its quota of "
                                f"{quota:,} bytes (export_quota_bytes_per_token); delete "
                                "finished exports or narrow the range")
        if total_quota is not None and others + src["bytes"] > total_quota:
            raise QuotaExceeded(f"stopped: export archives passed this API's quota of "
                                f"{total_quota:,} bytes (export_quota_bytes_total); try "
                                "again later")
