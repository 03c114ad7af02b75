"""The phonebook model: contacts, publication rules and the per-tenant store (sans-IO)."""

from centralino_directory.phonebook.contacts import Contact, ContactSource
from centralino_directory.phonebook.publication import (
    ExtensionRecord,
    Publication,
    PublicationError,
    PublicationMode,
    PublicationRule,
    extension_from_settings,
    publish,
)
from centralino_directory.phonebook.store import ContactChanges, DirectoryStore

__all__ = [
    "Contact",
    "ContactChanges",
    "ContactSource",
    "DirectoryStore",
    "ExtensionRecord",
    "Publication",
    "PublicationError",
    "PublicationMode",
    "PublicationRule",
    "extension_from_settings",
    "publish",
]
