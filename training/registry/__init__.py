"""MLflow: logging a training run, registering its bundle, judging it against the champion, promoting it."""
