"""Replace a folder of outputs in one step, so readers see the old set or the new one, never a mix."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path


def staging_folder(target: Path) -> Path:
    """A new, empty hidden folder beside ``target`` (same file system, so the swap is two renames)."""
    staging = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.building")
    staging.mkdir(parents=True)
    return staging


def replace_folder(staging: Path, target: Path) -> None:
    """Swap ``staging`` in for ``target`` with two renames, then delete the previous folder."""
    previous = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.previous")
    if target.exists():
        target.rename(previous)
    staging.rename(target)
    shutil.rmtree(previous, ignore_errors=True)
