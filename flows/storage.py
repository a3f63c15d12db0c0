"""The data lake: raw CSV, processed Parquet and quarantine Parquet partitioned YYYY/MM/DD.

The root is a local path or any fsspec URL (file://, s3://, gs://, memory://), so workers on
other machines share one lake. Writes are atomic: a local file is written under a temporary
name and renamed into place; an object store's single PUT is atomic by itself. A reader never
sees a truncated file under a final name.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import date

import fsspec
from fsspec.implementations.local import LocalFileSystem


@dataclass(frozen=True)
class DataLake:
    root: str

    @property
    def fs(self) -> fsspec.AbstractFileSystem:
        fs, _ = fsspec.core.url_to_fs(self.root)
        return fs

    @property
    def base(self) -> str:
        _, path = fsspec.core.url_to_fs(self.root)
        return str(path).rstrip("/")

    def partition(self, zone: str, day: date) -> str:
        """The folder of a day in a zone (raw, processed, quarantine): ZONE/YYYY/MM/DD."""
        return f"{self.base}/{zone}/{day:%Y/%m/%d}"

    def raw_folder(self, day: date) -> str:
        """The day's raw partition: every *.csv file in it is the day's source."""
        return self.partition("raw", day)

    def raw_path(self, day: date) -> str:
        """Where a day of one file (synthetic, or landed as a single file) is written."""
        return f"{self.raw_folder(day)}/transactions.csv"

    def processed_path(self, day: date) -> str:
        return f"{self.partition('processed', day)}/cleaned_transactions.parquet"

    def quarantine_path(self, day: date) -> str:
        return f"{self.partition('quarantine', day)}/rejected.parquet"

    def customers_path(self) -> str:
        return f"{self.base}/raw/customers/customers.csv"

    def url(self, path: str) -> str:
        """A path of this lake as the user would type it (with the protocol of a remote lake)."""
        protocol = self.fs.protocol if isinstance(self.fs.protocol, str) else self.fs.protocol[0]
        return path if protocol in ("file", "local") else f"{protocol}://{path.lstrip('/')}"

    def write_atomic(self, path: str, data: bytes) -> None:
        fs = self.fs
        parent = path.rsplit("/", 1)[0]
        fs.makedirs(parent, exist_ok=True)
        if isinstance(fs, LocalFileSystem):
            tmp = f"{path}.tmp-{uuid.uuid4().hex}"
            with open(tmp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        else:
            fs.pipe_file(path, data)

    def read(self, path: str) -> bytes:
        return bytes(self.fs.cat_file(path))

    def exists(self, path: str) -> bool:
        return bool(self.fs.exists(path))
