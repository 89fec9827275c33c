"""memvault's links to the tools around it: agent setup (MCP server and hooks)."""
