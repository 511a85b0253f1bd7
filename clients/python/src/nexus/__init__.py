"""Python client for Nexus, the multi-tenant context store for teams of humans and AI agents.

```python
from nexus import RemoteNexusClient

client = RemoteNexusClient(host="localhost", port=8080, api_key="nx_...")
context = client.read_json("/orgs/acme/sales/context.json")
client.write("/orgs/acme/sales/documents/proposal.md", "# Q1 Sales Proposal...")
```
"""

from .aio import AsyncOrganizations, AsyncRemoteNexusClient
from .embedded import NexusClient
from .errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NexusError,
    NotFoundError,
    PermissionDeniedError,
    ScopeNotAllowedError,
    UnavailableError,
)
from .remote import Organizations, RemoteNexusClient
from .types import (
    Acl,
    AclEntry,
    AuditEntry,
    Change,
    ContactData,
    ContextNoteData,
    DocumentData,
    Entry,
    GrepMatch,
    SearchHit,
    SearchResults,
    Item,
    ItemAccess,
    ItemCreated,
    ItemData,
    KbNodeData,
    LinkData,
    LockerData,
    Notification,
    Reader,
    ReminderData,
    ReportingLine,
    ResolvedProtocol,
    Session,
    SessionTemplateData,
    SharingHint,
    TempItemData,
    TrackItemData,
    TranscriptData,
    UserProfileData,
    Version,
    WorkflowProtocolData,
)

__all__ = [
    "Acl",
    "AclEntry",
    "AuditEntry",
    "Change",
    "AsyncOrganizations",
    "AsyncRemoteNexusClient",
    "AuthenticationError",
    "ConflictError",
    "ContactData",
    "ContextNoteData",
    "DocumentData",
    "Entry",
    "GrepMatch",
    "SearchHit",
    "SearchResults",
    "InvalidInputError",
    "Item",
    "ItemAccess",
    "ItemCreated",
    "ItemData",
    "KbNodeData",
    "LinkData",
    "LockerData",
    "Notification",
    "NexusClient",
    "NexusError",
    "NotFoundError",
    "Organizations",
    "PermissionDeniedError",
    "Reader",
    "ReminderData",
    "RemoteNexusClient",
    "ReportingLine",
    "ResolvedProtocol",
    "ScopeNotAllowedError",
    "Session",
    "SessionTemplateData",
    "SharingHint",
    "TempItemData",
    "TrackItemData",
    "TranscriptData",
    "UnavailableError",
    "UserProfileData",
    "Version",
    "WorkflowProtocolData",
]

__version__ = "0.1.0"
