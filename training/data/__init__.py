"""Postings in: reading files, naming their columns, normalising values, weekly panels, a synthetic market."""
