"""Canonical schemas, import and validation, identity stitching, the store."""
