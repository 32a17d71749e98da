"""Kehu (客户): a self-hosted customer archive and CRM."""

__version__ = "0.1.0"
