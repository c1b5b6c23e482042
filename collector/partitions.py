"""The partition of a record's key, computed once per key instead of once per record.

librdkafka's default partitioner (``consistent_random``) hashes the key of every
record it is given: CRC-32 of the key modulo the topic's partition count. A collector
produces hundreds of thousands of records a second under a few hundred keys (one per
container or file), and that hash was 6 % of its main thread (py-spy, the bench's
varied corpus). The same function is computed here once per key and the partition is
passed with each record, so the records of a key land exactly where librdkafka would
put them (and where an earlier version of the collector put them: a restart or an
upgrade does not move a container to another partition).

The partition count comes from librdkafka's statistics (``stats_cb``, every few
seconds), which list the partitions the brokers' metadata has. Until they name the
topic, the partition is left to librdkafka (-1), which computes the same thing.
"""

from __future__ import annotations

import zlib
from typing import Any

UNASSIGNED = -1  # RD_KAFKA_PARTITION_UA: librdkafka's partitioner chooses
# The partitioners that are CRC-32 of a non-empty key (the default is the first).
CRC32_PARTITIONERS = ("consistent_random", "consistent")


class KeyPartitions:
    def __init__(self, topic: str, partitioner: str = CRC32_PARTITIONERS[0]) -> None:
        self.topic = topic
        self.enabled = partitioner in CRC32_PARTITIONERS
        self.count = 0  # the topic's partitions, 0 while unknown
        self._of: dict[bytes, int] = {}

    def of(self, key: bytes) -> int:
        """The partition of ``key`` (-1 while the count is unknown or for an empty key,
        which librdkafka spreads at random)."""
        found = self._of.get(key)
        if found is not None:
            return found
        if not self.count or not key:
            return UNASSIGNED
        partition = self._of[key] = zlib.crc32(key) % self.count
        return partition

    def update(self, stats: dict[str, Any]) -> None:
        """A statistics document: take the topic's partition count when it changes
        (partitions were added). A partition listed but "unknown" is one the client
        asked for that the metadata does not have; -1 is librdkafka's queue of records
        not yet assigned."""
        topic = stats.get("topics", {}).get(self.topic)
        if not isinstance(topic, dict):
            return
        count = sum(1 for p in topic.get("partitions", {}).values()
                    if isinstance(p, dict) and p.get("partition", -1) >= 0
                    and not p.get("unknown", False))
        if count and count != self.count and self.enabled:
            self.count = count
            self._of.clear()
