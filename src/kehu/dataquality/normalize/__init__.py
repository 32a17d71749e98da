"""Pure normalisers, one module per field kind (see docs/data-standards.md)."""
