"""The library the stages call, by concern. Each subpackage imports only from those before it:

runtime → config → data → models → scoring → reporting → training → skeleton → tasks → tuning

(tests/test_layers.py enforces it). A stage module under stages/ reads its params, calls into these and
writes its outputs (tools/ holds the commands that are not stages: tuning is theirs); no module here
imports a stage."""
