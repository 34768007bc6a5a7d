"""Gridwall domain and read side: models, key schema, geography, dispatch, queries, push."""
