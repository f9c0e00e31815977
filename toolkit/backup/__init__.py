"""Backups: formats (archive, directory, manifest), storage (local, S3) and verification."""
