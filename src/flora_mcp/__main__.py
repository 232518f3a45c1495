"""`python -m flora_mcp` is the same as the `flora-mcp` command."""

from flora_mcp.cli import main

if __name__ == "__main__":
    main()
