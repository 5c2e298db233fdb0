"""The names of a report directory's files (``crosscheck run``/``check --report DIR``, the pytest
plugin's ``--crosscheck-report DIR``): a leaf module, so that the pytest plugin can name them without
importing the report machinery."""

JSON_NAME = "report.json"
HTML_NAME = "report.html"
JOURNAL_NAME = "journal.jsonl"
#: the replay files of the failing cases
CASES_DIR = "cases"
#: where ``crosscheck run -j N`` keeps its shards' report directories while they run
JOBS_DIR = ".jobs"
#: held (``flock``) by the run that owns the directory; it holds that run's pid and command
LOCK_NAME = ".crosscheck-lock"
#: every file crosscheck wrote into the directory, one JSON string (a relative path) per line
MANIFEST_NAME = ".crosscheck-manifest"
