"""Data in and out of the prepare stage: the built-in datasets from raw files or the Hub (builtin),
your own files or Hub ids (own_data, own_ner, text_files), where relative data paths resolve
(workspace); and the prepared splits as training reads them (prepared). Imports runtime and config."""
