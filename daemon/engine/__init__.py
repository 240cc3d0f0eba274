"""The pure rules: functions of (event, history, config, now) that return decisions; no I/O."""
