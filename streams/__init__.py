"""Gridwall write side: HTTP ingest, stream consumers and the district simulator."""
