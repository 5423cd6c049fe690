{{- define "kafka.validateValues" -}}
{{- $problems := list -}}
{{- $brokers := int .Values.replicaCount -}}
{{- if gt (int .Values.defaultReplicationFactor) $brokers -}}
{{- $problems = append $problems (printf "kafka.defaultReplicationFactor: must not exceed replicaCount (%d > %d)" (int .Values.defaultReplicationFactor) $brokers) -}}
{{- end -}}
{{- if gt (int .Values.minInsyncReplicas) (int .Values.defaultReplicationFactor) -}}
{{- $problems = append $problems (printf "kafka.minInsyncReplicas: must not exceed defaultReplicationFactor (%d > %d)" (int .Values.minInsyncReplicas) (int .Values.defaultReplicationFactor)) -}}
{{- end -}}
{{- with include "airlines.heapInJvmOptions" (list "kafka.jvmOptions" .Values.jvmOptions) -}}
{{- $problems = append $problems . -}}
{{- end -}}
{{- include "airlines.failOnProblems" $problems -}}
{{- end -}}

{{/* zookeeper.connect: the ensemble's client Service (ZooKeeper clients reconnect through it). */}}
{{- define "kafka.zookeeperConnect" -}}
{{- printf "%s:%s" (include "airlines.serviceHost" (dict "ctx" $ "component" "zookeeper")) (include "airlines.port" "zookeeper") -}}
{{- end -}}
