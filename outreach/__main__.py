"""The ``outreach`` command: the console script and ``python -m outreach``.

Stop signals are taken over before anything else is imported: the CLI's
imports take a second or more on a busy machine, and a SIGTERM or Ctrl-C in
that time must be a clean, explained exit (outreach/stopping.py), not a kill
or a traceback.
"""


def main() -> None:
    from outreach.stopping import run_starting

    run_starting(_cli)


def _cli() -> None:
    from outreach.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
