"""Where and how code runs: the user-fixable error, device and precision, several processes (DDP),
atomic outputs written by one process, the machine's description and peak memory. Imports nothing
from the rest of stages.lib."""
