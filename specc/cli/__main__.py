"""`python -m specc.cli ...` runs the command line, like the `specc` command."""
from specc.cli import main

main()
