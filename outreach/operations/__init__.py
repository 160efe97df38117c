"""Running outreach as a service: signs of life, metrics, logs, backups.

* ``heartbeat``: the worker's heartbeat and ``worker_status``; the time of the last mailbox poll;
* ``metrics``: the Prometheus collector that ``GET /metrics`` serves (read from the database at scrape time);
* ``logs``: the log format of ``serve`` and ``worker`` (text as before, or one JSON object a line);
* ``backup`` and ``restore``: one archive with the workspace's files and a consistent copy of its database
  (``archive`` is its format: the manifest, the checks, safe reading).

This floor knows storage and settings only: the worker, the web app and the CLI call it.
"""
