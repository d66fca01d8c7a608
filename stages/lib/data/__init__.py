"""Data in and out of the prepare stage: what it reads, as people have it (sources: the built-in
datasets, your own files or Hub ids), and the prepared splits as training reads them (prepared).
Imports runtime and config."""
