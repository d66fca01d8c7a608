"""The one kind of error a user can fix (bad params, missing data, unreachable model): a stage prints
its message as one line, without a traceback, and exits 2 (stages.lib.config.params.stage_main)."""


class PipelineError(Exception):
    """A problem the user can fix (bad params, missing data, unreachable model): no traceback."""
