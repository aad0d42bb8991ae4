"""One run from start to end: the runner, its summary.json and the success criteria.

- ``runner``: makes the run directory, opens the loggers, trains, writes ``summary.json``;
- ``summary``: summary.json from the trainer's record;
- ``criteria``: the specification's success criteria, computed from a run's history.
"""
