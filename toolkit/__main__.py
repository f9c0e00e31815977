"""`python -m toolkit` is `mongo-toolkit`."""

from toolkit.cli import main

main()
