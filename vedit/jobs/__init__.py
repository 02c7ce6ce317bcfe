"""Jobs: JSON specs for every op, validated up front, run by a queue of worker
threads with progress, cooperative cancellation, atomic outputs, and state in
SQLite so jobs survive a restart.

Python use without a server::

    from vedit.jobs import JobStore, Runner
    runner = Runner(JobStore("jobs.db")); runner.start()
    job = runner.submit({"op": "remove", "input": "/clips/a.mp4", "output": "/clips/a_clean.mp4",
                         "params": {"mask": "/clips/mask.png"}})
    runner.wait(job["id"])

Extra ops (tests, plugins) are added with :func:`register_op` (``vedit.ops``' one registry); they are then
valid in specs and run by the runner exactly like the built-in ``vedit.ops``.
"""
from vedit.jobs.runner import TERMINAL, JobNotFoundError, QueueFullError, Runner
from vedit.jobs.spec import (
    JobSpec,
    PathNotAllowedError,
    PathPolicy,
    SpecError,
    check_output,
    get_op_func,
    op_names,
    op_schema,
    register_op,
    unique_output,
    unregister_op,
    validate_spec,
)
from vedit.jobs.store import JobStore

__all__ = ["TERMINAL", "JobNotFoundError", "JobSpec", "JobStore", "PathNotAllowedError", "PathPolicy",
           "QueueFullError", "Runner", "SpecError", "check_output", "get_op_func", "op_names", "op_schema",
           "register_op", "unique_output", "unregister_op", "validate_spec"]
