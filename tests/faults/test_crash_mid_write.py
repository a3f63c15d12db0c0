"""A process killed while it writes raw, processed or quarantine files.

Promise: no truncated file is ever read as complete. A final name holds a complete file (the
old one or the new one); temporary names are never read; a landing that did not finish is never
replayed as the day (a later run without --input refuses it and says to land again).

The writer is stopped mid-write deterministically: it runs the real pipeline step under
RLIMIT_FSIZE set to half the size of the file it is writing, so the kernel kills it (SIGXFSZ)
exactly when that file is half written.
"""

from __future__ import annotations

import hashlib
import signal
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from flows import steps
from flows.errors import ContractError
from flows.generate import GeneratorConfig, generate_transactions, to_csv_bytes
from flows.ingest import raw_files, read_raw_partition
from flows.storage import DataLake
from tests.faults.conftest import (
    DayState,
    Site,
    assert_day_consistent,
    audit_message,
    day_csv,
    day_state,
    finish,
    other_site,
    wait_until,
)

DAY = date(2024, 4, 9)

# Runs the real steps; the file-size limit is set just before the step whose write must die.
WRITER = """
import resource, signal, sys
from datetime import date
from flows import steps
from flows.settings import get_settings

zone, day, source, limit = sys.argv[1], date.fromisoformat(sys.argv[2]), sys.argv[3], int(sys.argv[4])
settings = get_settings()
signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # Python ignores it; by default it kills the process
if zone == "raw":
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    steps.ingest(settings, day, input_path=source)
else:
    raw = steps.ingest(settings, day, input_path=source)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    steps.transform(settings, raw)
print("the write was not interrupted")
"""


def _mostly_rejected_csv(path: Path, day: date) -> Path:
    """A day where 90% of the rows break a rule: its quarantine file is much larger than its processed one."""
    table = generate_transactions(day, GeneratorConfig(transactions=20_000, seed=7))
    bad = np.random.default_rng(7).random(table.num_rows) < 0.9
    status = pc.if_else(pa.array(bad), "BOGUS", table.column("status"))
    path.write_bytes(to_csv_bytes(table.set_column(table.schema.get_field_index("status"), "status", status)))
    return path


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("write-sources")
    return {
        "old": day_csv(folder / "old.csv", DAY, seed=11, rows=2000, defect_rate=0.02),
        "new": day_csv(folder / "new.csv", DAY, seed=12, rows=20_000, defect_rate=0.02),
        "mostly-rejected": _mostly_rejected_csv(folder / "mostly-rejected.csv", DAY),
    }


def _zone_path(lake: DataLake, zone: str) -> str:
    return {"raw": lake.raw_path, "processed": lake.processed_path, "quarantine": lake.quarantine_path}[zone](DAY)


def _leftovers(final: str) -> list[Path]:
    return sorted(Path(final).parent.glob(Path(final).name + ".tmp-*"))


@pytest.fixture
def loaded_old(site: Site, sources: dict[str, Path]) -> DayState:
    steps.run_day(site.settings, DAY, input_path=str(sources["old"]))
    state = day_state(site.url, DAY)
    assert_day_consistent(state, DAY)
    return state


@pytest.mark.parametrize(
    "zone, source",
    [("raw", "new"), ("processed", "new"), ("quarantine", "mostly-rejected")],
)
def test_a_writer_killed_mid_write_never_leaves_a_truncated_file_under_the_final_name(
    site: Site,
    sources: dict[str, Path],
    loaded_old: DayState,
    tmp_path: Path,
    zone: str,
    source: str,
    fresh_database,
) -> None:
    # The same day written by an uninterrupted process elsewhere: the sizes and the expected result.
    reference = other_site(tmp_path / "reference", fresh_database())
    steps.run_day(reference, DAY, input_path=str(sources[source]))
    ref_lake = DataLake(reference.data_dir)
    size = Path(_zone_path(ref_lake, zone)).stat().st_size
    limit = size // 2
    if zone == "quarantine":  # the processed file, written first, must fit under the limit
        assert Path(ref_lake.processed_path(DAY)).stat().st_size < limit

    final = _zone_path(site.lake, zone)
    old_bytes = Path(final).read_bytes()
    writer = site.spawn([sys.executable, "-c", WRITER, zone, DAY.isoformat(), str(sources[source]), str(limit)])
    code, out, err = finish(writer)
    assert code == -signal.SIGXFSZ, f"the writer was not stopped mid-write ({code}):\n{out}\n{err}"
    (partial,) = _leftovers(final)
    assert partial.stat().st_size == limit  # it died half way through this very file

    if zone == "raw":
        # The landing did not finish: the day must not be replayed from what is there.
        assert not Path(final).exists() or Path(final).read_bytes() == old_bytes
        with pytest.raises(ContractError, match="interrupted"):
            steps.run_day(site.settings, DAY)
        assert day_state(site.url, DAY).rows == loaded_old.rows  # the warehouse kept the last good day
        status, message = audit_message(site.url, DAY)
        assert status == "failed" and "land the day again" in message
        steps.run_day(site.settings, DAY, input_path=str(sources[source]))  # landing again completes the day
    else:
        assert Path(final).read_bytes() == old_bytes  # the old, complete file is still under the final name
        pq.read_table(final)  # and it reads as Parquet
        steps.run_day(site.settings, DAY)  # a replay writes the new file completely

    assert pq.read_table(_zone_path(site.lake, "processed")).equals(pq.read_table(ref_lake.processed_path(DAY)))
    assert pq.read_table(_zone_path(site.lake, "quarantine")).equals(pq.read_table(ref_lake.quarantine_path(DAY)))
    assert day_state(site.url, DAY).content == day_state(reference.warehouse_url.get_secret_value(), DAY).content


def test_a_landing_of_several_files_killed_midway_is_never_replayed_as_the_day(
    site: Site, sources: dict[str, Path], loaded_old: DayState, tmp_path: Path
) -> None:
    """Files 1 and 2 of 3 landed, then the process died: the day is not two thirds of a source."""
    folder = tmp_path / "landed"
    folder.mkdir()
    day_csv(folder / "a.csv", DAY, seed=21, rows=500)
    day_csv(folder / "b.csv", DAY, seed=22, rows=500)
    big = day_csv(folder / "c.csv", DAY, seed=23, rows=20_000)
    limit = big.stat().st_size // 2  # a.csv and b.csv fit, c.csv dies half way
    writer = site.spawn([sys.executable, "-c", WRITER, "raw", DAY.isoformat(), str(folder), str(limit)])
    assert finish(writer)[0] == -signal.SIGXFSZ

    lake = site.lake
    assert len(raw_files(lake, DAY)) == 2  # two complete files under final names...
    with pytest.raises(ContractError, match="interrupted"):  # ...that are not the day
        read_raw_partition(lake, DAY, "replay")
    with pytest.raises(ContractError, match="interrupted"):
        steps.run_day(site.settings, DAY)
    assert day_state(site.url, DAY).rows == loaded_old.rows

    steps.run_day(site.settings, DAY, input_path=str(folder))
    done = day_state(site.url, DAY)
    assert_day_consistent(done, DAY)
    assert done.audit[2] == 21_000  # every row of the three files received


def test_sigkill_during_an_atomic_write_leaves_the_old_or_the_new_file(
    site: Site, sources: dict[str, Path], loaded_old: DayState
) -> None:
    """SIGKILL while a large raw file is being written: the final name holds one complete version."""
    lake = site.lake
    final = lake.raw_path(DAY)
    old_bytes = Path(final).read_bytes()
    new_bytes_size = 64 << 20
    script = (
        "import sys\nfrom flows.storage import DataLake\n"
        f"line = open({str(sources['new'])!r}, 'rb').read().split(b'\\n', 2)[1] + b'\\n'\n"
        f"data = open({str(sources['new'])!r}, 'rb').read().split(b'\\n', 1)[0] + b'\\n'"
        f" + line * ({new_bytes_size} // len(line))\n"
        f"print(len(data), flush=True)\n"
        f"DataLake({site.settings.data_dir!r}).write_atomic({final!r}, data)\n"
    )
    writer = site.spawn([sys.executable, "-c", script])
    expected_size = int(writer.stdout.readline())
    wait_until(lambda: _leftovers(final) or writer.poll() is not None, "the temporary file to appear")
    writer.send_signal(signal.SIGKILL)  # mid-write or mid-fsync (or, on a very fast disk, after the rename)
    finish(writer)

    content = Path(final).read_bytes()
    assert content == old_bytes or len(content) == expected_size, "a truncated file under the final name"
    batch = read_raw_partition(lake, DAY, "replay")
    assert batch.files == (final,)  # never the temporary file
    assert batch.sha256 == hashlib.sha256(content).hexdigest()
