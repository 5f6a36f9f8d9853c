"""Open311: the orders as the public may see them (GeoReport v2 ``services`` and ``requests``), read-only.

Owns which orders are public and which of their fields leave the bureau: the category as service, open/closed
with the Chinese state, the street's squad, dispatch, update and closure-deadline times, the address at
house-number precision, a position only when the export gave one, and the complaint text only when the
setting allows it, masked. Never a name, a phone number, a reply or a flat.
May import: ``tracker.domain``, ``tracker.models`` (no other service package).
"""

from tracker.services.open311.publication import (
    PublicSettings,
    find_requests,
    public_services,
    request_by_id,
)

__all__ = ["PublicSettings", "find_requests", "public_services", "request_by_id"]
