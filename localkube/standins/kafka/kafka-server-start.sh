#!/bin/bash
# localkube's kafka-server-start.sh for the kafka stand-in: a broker in the foreground,
# with the variables of Kafka's own bin/kafka-server-start.sh and kafka-run-class.sh:
#   KAFKA_HEAP_OPTS              heap                                  [-Xmx1G -Xms1G]
#   LOG_DIR                      kafka.logs.dir: server.log, GC log    [$KAFKA_HOME/logs]
#   KAFKA_LOG4J_OPTS             logging config       [-Dlog4j.configuration=config/log4j.properties]
#   KAFKA_JVM_PERFORMANCE_OPTS   GC and JIT options                    [G1, as upstream]
#   KAFKA_OPTS                   anything else for the JVM
# Usage: kafka-server-start.sh server.properties [--override property=value]...
set -euo pipefail

if [ $# -lt 1 ] || [ "$1" = -daemon ]; then
  echo "USAGE: $0 server.properties [--override property=value]*  (localkube stand-in: no -daemon)" >&2
  exit 1
fi

KAFKA_HOME="${KAFKA_HOME:-$(cd "$(dirname "$0")/.." && pwd)}"
LOG_DIR="${LOG_DIR:-$KAFKA_HOME/logs}"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
mkdir -p "$LOG_DIR"

# Word lists by contract, as in Kafka's scripts.
read -r -a heap <<<"${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G}"
read -r -a perf <<<"${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true}"
read -r -a log4j <<<"${KAFKA_LOG4J_OPTS:--Dlog4j.configuration=file:$KAFKA_HOME/config/log4j.properties}"
read -r -a opts <<<"${KAFKA_OPTS:-}"

exec "$JAVA" "${heap[@]}" "${perf[@]}" \
  "-Xlog:gc*:file=$LOG_DIR/kafkaServer-gc.log:time,tags:filecount=10,filesize=100M" \
  "-Dkafka.logs.dir=$LOG_DIR" "${log4j[@]}" "${opts[@]}" \
  -cp "$KAFKA_HOME/libs/*" kafka.Kafka "$@"
