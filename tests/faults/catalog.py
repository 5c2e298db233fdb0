"""Every fault-injection probe, by class (the classes of docs/... the issue names: the code under
test's return values, its exits, the processes it starts, user files for ``crosscheck check``, replay
files, report directories, journals and shard reports, the pytest plugin, npcnn's public API, CLI
options)."""
from __future__ import annotations

import catalog_dirs
import catalog_files
import catalog_impl
import catalog_npcnn


def all_probes() -> list:
    probes = (catalog_impl.probes() + catalog_files.probes() + catalog_dirs.probes() + catalog_npcnn.probes())
    names = [p.name for p in probes]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"probe names must be unique: {sorted(duplicates)}")
    return probes
