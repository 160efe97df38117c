"""The ``outreach`` command: the console script and ``python -m outreach``.

Stop signals are taken over before anything else is imported: the CLI's
imports take a second or more on a busy machine, and a SIGTERM in that time
must be a clean, explained exit (outreach/stopping.py), not a silent kill.
"""

from outreach.stopping import catch_stop_signals, exit_stopped


def main() -> None:
    catch_stop_signals()
    try:
        from outreach.cli import main as cli_main

        cli_main()
    except KeyboardInterrupt as exc:  # SIGTERM (Stopped) or Ctrl-C while the CLI was still loading
        exit_stopped(exc)


if __name__ == "__main__":
    main()
