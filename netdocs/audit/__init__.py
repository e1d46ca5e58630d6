"""The audit log: who searched or asked what, as which role, and which chunks they got."""
