"""An example package of job code: its functions run as jobstream Python tasks."""
