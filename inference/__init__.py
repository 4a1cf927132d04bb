"""Quire inference tier: model runtime, engine, server, client, embeddings and context budgeting."""
