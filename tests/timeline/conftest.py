"""The timeline tests use the numbered clips of the host-adapter tests
(tests/plugins): every frame carries its number, so a result placed on a
timeline can be checked frame for frame."""
from tests.plugins.conftest import helpers, numbered_clips  # noqa: F401 - shared fixtures
