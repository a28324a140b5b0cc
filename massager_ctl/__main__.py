"""`python -m massager_ctl` is the massager-ctl command."""

from .cli.entry import main

main()
