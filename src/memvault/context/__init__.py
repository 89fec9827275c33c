"""Where a memory comes from: sessions, projects and (later) tasks."""
