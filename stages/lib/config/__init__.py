"""params.yaml as typed settings, for every stage: reading it (params), the shape of each section
(schema), what each stage reads (settings), and where stages read and write (paths). Imports only
runtime."""
