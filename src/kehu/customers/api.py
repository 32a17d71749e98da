"""API for the customer archive (filled in by the API work)."""

from ninja import Router

router = Router(tags=["customers"])
