"""Hardware catalog: chips and systems as sourced, validated data."""

from modelchip.catalog.loader import Catalog, load_catalog
from modelchip.catalog.schema import ChipSpec, Quantity, SystemSpec

__all__ = ["Catalog", "ChipSpec", "Quantity", "SystemSpec", "load_catalog"]
