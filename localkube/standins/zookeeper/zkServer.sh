#!/bin/bash
# localkube's zkServer.sh for the zookeeper stand-in: runs the server in the foreground
# (what containers do), with the variables of ZooKeeper's own bin/zkServer.sh:
#   ZOOCFGDIR        configuration directory (zoo.cfg, logback.xml), first on the classpath
#   ZOOCFG           configuration file name, or a path                     [zoo.cfg]
#   ZOO_LOG_DIR      zookeeper.log.dir (logback's file appenders, JVM error files)
#   SERVER_JVMFLAGS  JVM options of the server (e.g. -Xmx256m); then JVMFLAGS
#   ZK_SERVER_HEAP   default heap in MB, overridden by -Xmx in SERVER_JVMFLAGS [1000]
set -euo pipefail

ZOO_HOME="${ZOO_HOME:-$(cd "$(dirname "$0")/.." && pwd)}"
ZOOCFGDIR="${ZOOCFGDIR:-$ZOO_HOME/conf}"
ZOOCFG="${ZOOCFG:-zoo.cfg}"
[[ "$ZOOCFG" == /* ]] || ZOOCFG="$ZOOCFGDIR/$ZOOCFG"
ZOO_LOG_DIR="${ZOO_LOG_DIR:-$ZOO_HOME/logs}"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"

# The *JVMFLAGS variables are whitespace-separated lists by contract.
read -r -a server_flags <<<"${SERVER_JVMFLAGS:-} ${JVMFLAGS:-}"
cmd=("$JAVA" "-Dzookeeper.log.dir=$ZOO_LOG_DIR" "-Dzookeeper.log.file=zookeeper-server.log"
     "-XX:ErrorFile=$ZOO_LOG_DIR/hs_err_pid%p.log" -XX:+ExitOnOutOfMemoryError
     -cp "$ZOOCFGDIR:$ZOO_HOME/lib/*" "-Xmx${ZK_SERVER_HEAP:-1000}m" "${server_flags[@]}"
     org.apache.zookeeper.server.quorum.QuorumPeerMain "$ZOOCFG")

case "${1:-}" in
  start-foreground)
    [ -f "$ZOOCFG" ] || { echo "$0: no configuration file $ZOOCFG" >&2; exit 1; }
    mkdir -p "$ZOO_LOG_DIR"
    echo "ZooKeeper JMX disabled; using config: $ZOOCFG" >&2
    exec "${cmd[@]}"
    ;;
  print-cmd)
    echo "${cmd[*]}"
    ;;
  version)
    exec "$JAVA" -cp "$ZOO_HOME/lib/*" org.apache.zookeeper.version.VersionInfoMain
    ;;
  *)
    echo "Usage: $0 start-foreground|print-cmd|version  (localkube stand-in: no daemon mode)" >&2
    exit 1
    ;;
esac
