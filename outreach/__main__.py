"""The ``outreach`` command: the console script and ``python -m outreach``.

Stop signals are taken over before anything else is imported: the CLI's
imports take a second or more on a busy machine, and a SIGTERM or Ctrl-C in
that time must be a clean, explained exit (outreach/stopping.py), not a kill
or a traceback.
"""


def main() -> None:
    try:
        from outreach.stopping import catch_stop_signals

        catch_stop_signals()
        from outreach.cli import main as cli_main

        cli_main()
    except KeyboardInterrupt as exc:  # SIGTERM (Stopped) or Ctrl-C while the CLI was still loading
        from outreach.stopping import exit_stopped

        exit_stopped(exc)


if __name__ == "__main__":
    main()
