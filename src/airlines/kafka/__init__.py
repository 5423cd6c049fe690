"""Kafka as every program sees it: client settings from the configuration, topic and broker
administration, and the principals and ACLs of a secured cluster."""
