#!/bin/bash
# localkube's Spark container entrypoint (the official apache/spark image's
# /opt/entrypoint.sh contract, written for the stand-in):
#   driver ARGS...  spark-submit in client mode inside the driver pod, bound to the pod IP
#   executor        Spark's Kubernetes executor backend, configured by the SPARK_EXECUTOR_*,
#                   SPARK_DRIVER_URL, SPARK_APPLICATION_ID, SPARK_RESOURCE_PROFILE_ID and
#                   SPARK_JAVA_OPT_<n> variables that Spark sets on executor pods
#   anything else   run as given
# Spark runs under tini, as user spark when the container starts as root.
set -eo pipefail

export SPARK_HOME="${SPARK_HOME:-/opt/spark}"
if [ -z "${JAVA_HOME:-}" ]; then
  JAVA_HOME="$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"
fi

# Java (and Hadoop's user lookup) need a passwd entry for the uid; an arbitrary uid (e.g.
# OpenShift's) gets one from nss_wrapper.
passwd_entry_for_uid() {
  getent passwd "$(id -u)" >/dev/null 2>&1 && return 0
  local lib
  for lib in /usr/lib/*/libnss_wrapper.so /usr/lib/libnss_wrapper.so; do
    [ -s "$lib" ] || continue
    NSS_WRAPPER_PASSWD="$(mktemp)"
    NSS_WRAPPER_GROUP="$(mktemp)"
    printf 'spark:x:%s:%s:%s:%s:/bin/false\n' "$(id -u)" "$(id -g)" \
      "${SPARK_USER_NAME:-anonymous uid}" "$SPARK_HOME" >"$NSS_WRAPPER_PASSWD"
    printf 'spark:x:%s:\n' "$(id -g)" >"$NSS_WRAPPER_GROUP"
    export LD_PRELOAD="$lib" NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP
    return 0
  done
}

classpath="${SPARK_CLASSPATH:+$SPARK_CLASSPATH:}$SPARK_HOME/jars/*"
[ -z "${SPARK_EXTRA_CLASSPATH:-}" ] || classpath="$classpath:$SPARK_EXTRA_CLASSPATH"
[ -z "${HADOOP_CONF_DIR:-}" ] || classpath="$HADOOP_CONF_DIR:$classpath"
classpath="${SPARK_CONF_DIR:-$SPARK_HOME/conf}:$classpath:$PWD"
if [ -n "${HADOOP_HOME:-}" ] && [ -z "${SPARK_DIST_CLASSPATH:-}" ]; then
  SPARK_DIST_CLASSPATH="$("$HADOOP_HOME/bin/hadoop" classpath)"
  export SPARK_DIST_CLASSPATH
fi
[ -z "${PYSPARK_PYTHON:-}" ] || export PYSPARK_PYTHON
[ -z "${PYSPARK_DRIVER_PYTHON:-}" ] || export PYSPARK_DRIVER_PYTHON

# The executor's JVM options arrive as SPARK_JAVA_OPT_0, SPARK_JAVA_OPT_1, ... in order.
java_opts=()
while IFS= read -r name; do
  java_opts+=("${!name}")
done < <(compgen -e | grep -E '^SPARK_JAVA_OPT_[0-9]+$' | sort -t_ -k4 -n)

as_spark=()
if [ "$(id -u)" = 0 ]; then
  as_spark=(setpriv --reuid=spark --regid=spark --init-groups)
fi

case "${1:-}" in
  driver)
    shift
    passwd_entry_for_uid
    exec "${as_spark[@]}" /usr/bin/tini -s -- "$SPARK_HOME/bin/spark-submit" \
      --conf "spark.driver.bindAddress=$SPARK_DRIVER_BIND_ADDRESS" \
      --conf "spark.executorEnv.SPARK_DRIVER_POD_IP=$SPARK_DRIVER_BIND_ADDRESS" \
      --deploy-mode client \
      "$@"
    ;;
  executor)
    shift
    passwd_entry_for_uid
    exec "${as_spark[@]}" /usr/bin/tini -s -- "$JAVA_HOME/bin/java" \
      "${java_opts[@]}" \
      "-Xms$SPARK_EXECUTOR_MEMORY" "-Xmx$SPARK_EXECUTOR_MEMORY" \
      -cp "$classpath${SPARK_DIST_CLASSPATH:+:$SPARK_DIST_CLASSPATH}" \
      org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend \
      --driver-url "$SPARK_DRIVER_URL" \
      --executor-id "$SPARK_EXECUTOR_ID" \
      --cores "$SPARK_EXECUTOR_CORES" \
      --app-id "$SPARK_APPLICATION_ID" \
      --hostname "$SPARK_EXECUTOR_POD_IP" \
      --resourceProfileId "$SPARK_RESOURCE_PROFILE_ID" \
      --podName "$SPARK_EXECUTOR_POD_NAME"
    ;;
  *)
    exec "$@"
    ;;
esac
