"""vedit: local-first, temporally consistent generative video editing."""
from vedit.errors import (  # noqa: F401
    EngineNotFoundError,
    InvalidInputError,
    JobCancelled,
    MediaError,
    MissingDependencyError,
    MissingWeightsError,
    VeditError,
)

__version__ = "0.1.0"
