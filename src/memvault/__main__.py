"""`python -m memvault` runs the command line."""

from memvault.cli import main

if __name__ == "__main__":
    main()
