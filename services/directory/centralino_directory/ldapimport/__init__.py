"""Importing contacts from external LDAP/AD directories (FEAT-10)."""

from centralino_directory.ldapimport.client import DirectoryImportError, FetchResult, fetch
from centralino_directory.ldapimport.config import (
    DEFAULT_MAPPING,
    ImportConfigError,
    ImportSource,
    load_sources,
)
from centralino_directory.ldapimport.scheduler import ImportReport, ImportScheduler

__all__ = [
    "DEFAULT_MAPPING",
    "DirectoryImportError",
    "FetchResult",
    "ImportConfigError",
    "ImportReport",
    "ImportScheduler",
    "ImportSource",
    "fetch",
    "load_sources",
]
