"""What the prepare stage reads, as people have it: the built-in datasets from the Hub or the raw files
(builtin), your own files or Hub ids (own_data, own_ner; text_files: the files as tools write them),
and paths in params resolved alike in the workspace and DVC's experiment clones (workspace)."""
