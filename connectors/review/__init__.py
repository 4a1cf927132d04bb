"""The user-defined `review` (a grid of documents by columns, every cell cited) and `ask` connectors."""
