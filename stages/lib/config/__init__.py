"""params.yaml as typed settings: reading it (params), the shape of each section (schema), what each
stage reads (settings), where stages read and write (paths), and where relative paths resolve
(workspace). Imports only runtime."""
