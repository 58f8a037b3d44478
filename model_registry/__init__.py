"""The only code that talks to MLflow: register, promote, load, model cards."""
