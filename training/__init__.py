"""The producer: postings in, a forecast bundle registered in MLflow out."""
