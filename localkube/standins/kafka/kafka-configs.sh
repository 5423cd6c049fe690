#!/bin/bash
# localkube's kafka-configs.sh for the kafka stand-in: Kafka's ConfigCommand, with the
# variables of Kafka's own bin/kafka-run-class.sh for tools:
#   KAFKA_HEAP_OPTS              heap                                  [-Xmx256M]
#   KAFKA_LOG4J_OPTS             logging config  [-Dlog4j.configuration=config/tools-log4j.properties]
#   KAFKA_JVM_PERFORMANCE_OPTS   GC and JIT options                    [G1, as upstream]
#   KAFKA_OPTS                   anything else for the JVM (e.g. ZooKeeper's JAAS file)
# Usage: kafka-configs.sh --zookeeper HOST:PORT --alter --entity-type users ... (as upstream)
set -euo pipefail

KAFKA_HOME="${KAFKA_HOME:-$(cd "$(dirname "$0")/.." && pwd)}"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"

read -r -a heap <<<"${KAFKA_HEAP_OPTS:--Xmx256M}"
read -r -a perf <<<"${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true}"
read -r -a log4j <<<"${KAFKA_LOG4J_OPTS:--Dlog4j.configuration=file:$KAFKA_HOME/config/tools-log4j.properties}"
read -r -a opts <<<"${KAFKA_OPTS:-}"

exec "$JAVA" "${heap[@]}" "${perf[@]}" "${log4j[@]}" "${opts[@]}" \
  -cp "$KAFKA_HOME/libs/*" kafka.admin.ConfigCommand "$@"
