"""What is kept on disk: the artifact cache, typed records, run files."""
