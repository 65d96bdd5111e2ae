"""Kept so older imports work: ``JournalRecorder`` lives in ``core.journal.recorder``."""

from core.journal.recorder import JournalRecorder
from core.journal.writer import JournalWriteError

__all__ = ["JournalRecorder", "JournalWriteError"]
