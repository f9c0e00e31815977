"""The catalog: its JSON Schema, loading with located errors, the model, and lint."""

from toolkit.catalog.load import load_catalog
from toolkit.catalog.model import Catalog, CollectionSpec, IndexSpec

__all__ = ["Catalog", "CollectionSpec", "IndexSpec", "load_catalog"]
