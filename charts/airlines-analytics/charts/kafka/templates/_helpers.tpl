{{- define "kafka.validateValues" -}}
{{- $problems := list -}}
{{- $brokers := int .Values.replicaCount -}}
{{- if gt (int .Values.defaultReplicationFactor) $brokers -}}
{{- $problems = append $problems (printf "kafka.defaultReplicationFactor: must not exceed replicaCount (%d > %d)" (int .Values.defaultReplicationFactor) $brokers) -}}
{{- end -}}
{{- if gt (int .Values.minInsyncReplicas) (int .Values.defaultReplicationFactor) -}}
{{- $problems = append $problems (printf "kafka.minInsyncReplicas: must not exceed defaultReplicationFactor (%d > %d)" (int .Values.minInsyncReplicas) (int .Values.defaultReplicationFactor)) -}}
{{- end -}}
{{- if and (not .Values.auth.enabled) (not .Values.auth.allowInsecure) -}}
{{- $problems = append $problems "kafka.auth.enabled: false needs auth.allowInsecure: true (anyone who reaches the brokers could then write, read and delete every topic)" -}}
{{- end -}}
{{- if and .Values.tls.existingSecret .Values.tls.certManager.enabled -}}
{{- $problems = append $problems "kafka.tls.certManager.enabled: not with existingSecret (one source of certificates)" -}}
{{- end -}}
{{- if and .Values.tls.certManager.enabled (not .Values.tls.certManager.issuerRef.name) -}}
{{- $problems = append $problems "kafka.tls.certManager.issuerRef.name: required with certManager.enabled" -}}
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

{{/* The brokers' own listener port (replication, the controller). */}}
{{- define "kafka.brokerPort" -}}9093{{- end -}}

{{/* security.protocol of both listeners, from auth.enabled and tls.enabled. */}}
{{- define "kafka.protocol" -}}
{{- if .Values.auth.enabled -}}
{{- ternary "SASL_SSL" "SASL_PLAINTEXT" .Values.tls.enabled -}}
{{- else -}}
{{- ternary "SSL" "PLAINTEXT" .Values.tls.enabled -}}
{{- end -}}
{{- end -}}

{{/* Where the brokers' certificate comes from: "issue" (the chart's CA, an init
container issues it), "secret" (cert-manager's or the user's Secret), or "" (no TLS). */}}
{{- define "kafka.tlsSource" -}}
{{- if .Values.tls.enabled -}}
{{- ternary "secret" "issue" (or .Values.tls.certManager.enabled (ne .Values.tls.existingSecret "")) -}}
{{- end -}}
{{- end -}}

{{/* Secret holding the brokers' certificate (or, with the chart's CA, the CA). */}}
{{- define "kafka.tlsSecretName" -}}
{{- default (include "airlines.name" (dict "ctx" . "component" "kafka-tls")) .Values.tls.existingSecret -}}
{{- end -}}
