"""The replica: where every version of every memory is kept (Neo4j)."""
