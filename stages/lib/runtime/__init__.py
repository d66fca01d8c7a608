"""Where and how code runs, for every stage: the user-fixable error, device and precision, several
processes (DDP), and outputs written atomically by one process. Imports nothing from the rest of
stages.lib."""
