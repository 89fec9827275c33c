"""Verification: compare the local store with the replica, changing neither (invariant 5).

Each side is reduced to per-memory fingerprints — id, sync_version, content hash (checked
against the text, so a damaged copy never looks sound) and tombstone — and to a digest: the
SHA-256 of the sorted lines `id:version:hash:deleted` (deleted is 1 or 0).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from memvault.errors import MemvaultError
from memvault.models import SyncDirection, SyncResult, utc_now
from memvault.remote.protocol import ExportFilter, Fingerprint, Replica
from memvault.store import LocalStore
from memvault.sync.audit import SyncTimer

LISTED = 100  # ids shown per list in rendered output; the counts are always complete
EVENT_IDS = 1000  # ids kept on a SyncEvent row; its count is always complete


@dataclass(frozen=True)
class VerifyReport:
    """Where the two copies differ. `local_pending` is not drift: those are local changes that
    wait in the outbox (the replica will get them)."""

    compared: int
    missing_local: list[str] = field(default_factory=list)
    missing_remote: list[str] = field(default_factory=list)
    version_differs: list[str] = field(default_factory=list)
    hash_differs: list[str] = field(default_factory=list)  # same version, other text or state
    local_pending: list[str] = field(default_factory=list)
    digest_local: str = ""
    digest_remote: str = ""

    @property
    def drift(self) -> list[str]:
        """Every id whose copies disagree (pending local changes excluded), sorted."""
        return sorted(
            {*self.missing_local, *self.missing_remote, *self.version_differs, *self.hash_differs}
        )

    @property
    def in_sync(self) -> bool:
        return not self.drift

    def as_dict(self, listed: int = LISTED) -> dict[str, Any]:
        """JSON-ready: every count, and at most `listed` ids per list."""
        out: dict[str, Any] = {"in_sync": self.in_sync, "compared": self.compared}
        for name in _LISTS:
            ids: list[str] = getattr(self, name)
            out[name] = ids[:listed]
            out[f"{name}_count"] = len(ids)
        out.update(digest_local=self.digest_local, digest_remote=self.digest_remote)
        return out


def digest(fingerprints: Iterable[Fingerprint]) -> str:
    """SHA-256 over the sorted `id:version:hash:deleted` lines of a copy."""
    lines = sorted(
        f"{f.memory_id}:{f.sync_version}:{f.content_hash}:{int(f.deleted)}" for f in fingerprints
    )
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def compare(
    local: Mapping[str, Fingerprint],
    remote: Mapping[str, Fingerprint],
    *,
    pending: set[str],
    include_deleted: bool = True,
    local_elsewhere: Mapping[str, Fingerprint] | None = None,
) -> VerifyReport:
    """Compare two copies of a scope, each as fingerprints by id.

    `local_elsewhere` holds local copies outside the local scope (e.g. an older version the
    `since` filter left out), so such a memory reads as differing, not as missing. Without
    `include_deleted`, memories that are gone on both sides (tombstone or absent) are ignored,
    and tombstones are left out of the digests.
    """
    elsewhere = local_elsewhere or {}
    lists: dict[str, list[str]] = {name: [] for name in _LISTS}
    compared = 0
    for memory_id in sorted(local.keys() | remote.keys()):
        mine = local.get(memory_id) or elsewhere.get(memory_id)
        theirs = remote.get(memory_id)
        if not include_deleted and _gone(mine) and _gone(theirs):
            continue
        compared += 1
        if not _same(mine, theirs):
            lists[_difference(memory_id, mine, theirs, pending)].append(memory_id)

    def kept(f: Fingerprint) -> bool:
        return include_deleted or not f.deleted

    return VerifyReport(
        compared=compared,
        **lists,
        digest_local=digest(filter(kept, local.values())),
        digest_remote=digest(filter(kept, remote.values())),
    )


def local_fingerprints(
    store: LocalStore, *, project_id: str | None = None, since: datetime | None = None
) -> dict[str, Fingerprint]:
    """The local store's fingerprints (of a project, updated at or after `since`), by id."""
    return {
        row[0]: Fingerprint(*row)
        for row in store.version_fingerprints(project_id=project_id, since=since)
    }


async def compare_with_replica(
    store: LocalStore, replica: Replica, flt: ExportFilter
) -> VerifyReport:
    """Compare the scope of `flt` (project, updated since, tombstones or not) on both sides."""
    # Tombstones are always fetched: a memory deleted on one side only is a difference.
    remote_rows = await replica.fingerprints(
        ExportFilter(project_id=flt.project_id, since=flt.since, include_deleted=True)
    )
    remote = {f.memory_id: f for f in remote_rows}
    local = local_fingerprints(store, project_id=flt.project_id, since=flt.since)
    scoped = flt.project_id is not None or flt.since is not None
    return compare(
        local,
        remote,
        pending=store.pending_ids(),
        include_deleted=flt.include_deleted,
        local_elsewhere=local_fingerprints(store) if scoped else None,
    )


async def verify(
    store: LocalStore,
    replica: Replica,
    flt: ExportFilter | None = None,
    *,
    clock: Callable[[], datetime] = utc_now,
) -> VerifyReport:
    """Compare the local store with the replica (everything, tombstones included, unless `flt`
    narrows it) and report drift; changes no memory on either side. Leaves one SyncEvent."""
    timer = SyncTimer("verify", SyncDirection.REMOTE_TO_LOCAL)
    try:
        report = await compare_with_replica(
            store, replica, flt or ExportFilter(include_deleted=True)
        )
    except MemvaultError as exc:
        timer.finish(store, SyncResult.FAILED, clock(), count=0, error=str(exc))
        raise
    timer.add(UUID(memory_id) for memory_id in report.drift[:EVENT_IDS])
    counts = {k: v for k, v in report.as_dict(listed=0).items() if k.endswith("_count")}
    timer.extra.update(
        in_sync=report.in_sync,
        digest_local=report.digest_local,
        digest_remote=report.digest_remote,
        **counts,
    )
    result = SyncResult.SUCCESS if report.in_sync else SyncResult.PARTIAL
    timer.finish(store, result, clock(), count=report.compared)
    return report


_LISTS = ("missing_local", "missing_remote", "version_differs", "hash_differs", "local_pending")


def _difference(
    memory_id: str, mine: Fingerprint | None, theirs: Fingerprint | None, pending: set[str]
) -> str:
    """Which list a differing memory belongs in."""
    if memory_id in pending:
        return "local_pending"
    if mine is None:
        return "missing_local"
    if theirs is None:
        return "missing_remote"
    return "version_differs" if mine.sync_version != theirs.sync_version else "hash_differs"


def _gone(fingerprint: Fingerprint | None) -> bool:
    return fingerprint is None or fingerprint.deleted


def _same(a: Fingerprint | None, b: Fingerprint | None) -> bool:
    if a is None or b is None:
        return a is b
    return (a.sync_version, a.content_hash, a.deleted) == (
        b.sync_version,
        b.content_hash,
        b.deleted,
    )
