"""The producers: a region's fleet, its simulated flight events, and publishing them to
Kafka (``airlines produce``, ``airlines replay``)."""
