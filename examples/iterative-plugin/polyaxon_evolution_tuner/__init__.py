"""polyaxon-evolution-tuner: an example tuner plugin for polyaxon-core's ``kind: iterative``."""
