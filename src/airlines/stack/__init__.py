"""The local stack: real ZooKeeper, Kafka brokers and a Redis Cluster on one machine."""
