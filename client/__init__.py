"""The freelancer's thin gRPC client: no polars, MLflow, Prophet or NumPy on its import path."""
