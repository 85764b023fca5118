"""Output layout, manifest records and file writing for synthesized datasets."""

from oodforge.export.layout import DatasetLayout
from oodforge.export.manifest import MANIFEST_SCHEMA, InstanceRecord, ManifestRecord, read_manifest

__all__ = ["MANIFEST_SCHEMA", "DatasetLayout", "InstanceRecord", "ManifestRecord", "read_manifest"]
