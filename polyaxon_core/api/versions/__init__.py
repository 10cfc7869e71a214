"""The registry's endpoints: a project's component, model and artifact versions."""
