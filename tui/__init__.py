"""The Textual cockpit: renders engine snapshots and sends the trader's commands."""
