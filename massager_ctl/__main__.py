"""`python -m massager_ctl` is the massager-ctl command."""

try:
    from .cli.entry import main
except KeyboardInterrupt:  # Ctrl-C while Python was still starting: nothing runs yet
    import signal
    import sys

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C changes nothing
    sys.stderr.write("massager-ctl: interrupted (SIGINT)\n")
    sys.exit(130)

main()
