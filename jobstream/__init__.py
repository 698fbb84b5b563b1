"""jobstream: an event-sourced distributed job scheduler on Apache Kafka."""

__version__ = "0.1.0"
