"""The Parquet data lake: versioned, hive-partitioned datasets swapped atomically."""

from episignal.lake.versioned import Partition, VersionedDataset

__all__ = ["Partition", "VersionedDataset"]
