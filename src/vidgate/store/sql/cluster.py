"""What the nodes sharing one database must agree on, in SQL: one row, written once."""

from __future__ import annotations

from sqlalchemy import exc as sa_exc
from sqlalchemy import insert, select, update

from vidgate.records import ClusterRecord
from vidgate.store.sql.concern import SqlConcern
from vidgate.store.sql.database import Connectionlike
from vidgate.store.sql.tables import cluster

__all__ = ["SqlCluster"]

ROW_ID = 1


class SqlCluster(SqlConcern):
    async def cluster_record(self) -> ClusterRecord | None:
        async with self.db.reading() as conn:
            return await self._cluster(conn)

    async def settle_cluster(self, record: ClusterRecord) -> ClusterRecord:
        try:
            async with self.db.writing() as conn:
                await conn.execute(
                    insert(cluster).values(
                        id=ROW_ID,
                        secret_fingerprint=record.secret_fingerprint,
                        canary_blob=record.canary_blob,
                        canary_sha256=record.canary_sha256,
                        public_url=record.public_url,
                        created_at=record.created_at,
                    )
                )
        except sa_exc.IntegrityError:
            pass  # another node's record came first; it is the one in force
        found = await self.cluster_record()
        assert found is not None
        return found

    async def adopt_public_url(self, url: str) -> str:
        async with self.db.writing() as conn:
            await conn.execute(
                update(cluster)
                .where(cluster.c.id == ROW_ID, cluster.c.public_url.is_(None))
                .values(public_url=url)
            )
            found = await self._cluster(conn)
        assert found is not None and found.public_url is not None
        return found.public_url

    @staticmethod
    async def _cluster(conn: Connectionlike) -> ClusterRecord | None:
        result = await conn.execute(select(cluster).where(cluster.c.id == ROW_ID))
        row = result.mappings().first()
        if row is None:
            return None
        return ClusterRecord(
            secret_fingerprint=row["secret_fingerprint"],
            canary_blob=row["canary_blob"],
            canary_sha256=row["canary_sha256"],
            public_url=row["public_url"],
            created_at=row["created_at"],
        )
