{{/*
Names, hosts and ports: the ONE place every subchart takes them from, so a Service, the
pods that talk to it and the config that points at it cannot disagree.

Every resource is named "<prefix>-<component>", where prefix is
global.fullnameOverride or the release name (truncated to 30 characters, which leaves
room for "-redis-cluster-headless" and StatefulSet pod ordinals within 63).
*/}}

{{/* Release-wide name prefix. Usage: include "airlines.prefix" $ */}}
{{- define "airlines.prefix" -}}
{{- $global := .Values.global | default dict -}}
{{- default .Release.Name $global.fullnameOverride | trunc 30 | trimSuffix "-" -}}
{{- end -}}

{{/* Name of a component's resources. Usage: include "airlines.name" (dict "ctx" $ "component" "kafka") */}}
{{- define "airlines.name" -}}
{{- printf "%s-%s" (include "airlines.prefix" .ctx) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Headless Service of a StatefulSet component. */}}
{{- define "airlines.headlessName" -}}
{{- printf "%s-headless" (include "airlines.name" .) -}}
{{- end -}}

{{/* Namespace of every resource (the release namespace). */}}
{{- define "airlines.namespace" -}}
{{- .Release.Namespace -}}
{{- end -}}

{{/* Cluster DNS domain. */}}
{{- define "airlines.clusterDomain" -}}
{{- $global := .Values.global | default dict -}}
{{- default "cluster.local" $global.clusterDomain -}}
{{- end -}}

{{/* Stable DNS name of one StatefulSet pod. Usage: include "airlines.podHost" (dict "ctx" $ "component" "kafka" "index" 0) */}}
{{- define "airlines.podHost" -}}
{{- $name := include "airlines.name" . -}}
{{- printf "%s-%d.%s.%s.svc.%s" $name (int .index) (include "airlines.headlessName" .) (include "airlines.namespace" .ctx) (include "airlines.clusterDomain" .ctx) -}}
{{- end -}}

{{/* host:port of every pod of a StatefulSet, as a JSON list. Usage: include "airlines.podEndpoints" (dict "ctx" $ "component" "kafka" "count" 3) | fromJsonArray */}}
{{- define "airlines.podEndpoints" -}}
{{- $out := list -}}
{{- range $i := until (int .count) -}}
{{- $host := include "airlines.podHost" (dict "ctx" $.ctx "component" $.component "index" $i) -}}
{{- $out = append $out (printf "%s:%s" $host (include "airlines.port" $.component)) -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/* Client port of a component. Usage: include "airlines.port" "kafka" */}}
{{- define "airlines.port" -}}
{{- $ports := dict "zookeeper" "2181" "kafka" "9092" "redis-cluster" "6379" -}}
{{- required (printf "airlines.port: no port for component %q" .) (get $ports .) -}}
{{- end -}}

{{/* Other fixed ports. */}}
{{- define "airlines.port.zookeeperPeer" -}}2888{{- end -}}
{{- define "airlines.port.zookeeperElection" -}}3888{{- end -}}
{{- define "airlines.port.zookeeperAdmin" -}}8080{{- end -}}
{{- define "airlines.port.redisBus" -}}16379{{- end -}}

{{/* Service account of a component ("spark", "producer", "test", "hooks", "kafka"...). */}}
{{- define "airlines.serviceAccountName" -}}
{{- include "airlines.name" . -}}
{{- end -}}

{{/*
The streaming job's SparkApplication, and the ConfigMap that carries its manifest and
owns it (rendered by the streaming subchart; the hook `airlines k8s apply-spark-app`
applies the one with the other as owner, and the rbac subchart's Role names both).
*/}}
{{- define "airlines.streaming.appName" -}}
{{- include "airlines.name" (dict "ctx" . "component" "streaming") -}}
{{- end -}}

{{- define "airlines.streaming.appConfigMapName" -}}
{{- include "airlines.name" (dict "ctx" . "component" "streaming-app") -}}
{{- end -}}

{{/* The ConfigMap carrying /etc/airlines/config.yaml (rendered by the umbrella chart). */}}
{{- define "airlines.configMapName" -}}
{{- include "airlines.name" (dict "ctx" . "component" "config") -}}
{{- end -}}

{{/* Secret holding the Redis password, and its key. */}}
{{- define "airlines.redis.secretName" -}}
{{- $auth := .Values.global.redis.auth -}}
{{- default (include "airlines.name" (dict "ctx" . "component" "redis-auth")) $auth.existingSecret -}}
{{- end -}}

{{- define "airlines.redis.secretKey" -}}
{{- default "redis-password" .Values.global.redis.auth.existingSecretPasswordKey -}}
{{- end -}}

{{/* DNS name of a component's ClusterIP Service. Usage: include "airlines.serviceHost" (dict "ctx" $ "component" "zookeeper") */}}
{{- define "airlines.serviceHost" -}}
{{- printf "%s.%s.svc.%s" (include "airlines.name" .) (include "airlines.namespace" .ctx) (include "airlines.clusterDomain" .ctx) -}}
{{- end -}}

{{/* Prometheus scrape annotations of a pod or Service. Usage: include "airlines.scrapeAnnotations" 9102 */}}
{{- define "airlines.scrapeAnnotations" -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ . | quote }}
prometheus.io/path: /metrics
{{- end -}}

{{/* NetworkPolicy "from" peers of a /metrics port (global.monitoring.scrapeFrom; any pod of any namespace when empty). */}}
{{- define "airlines.scrapeFrom" -}}
{{- with .Values.global.monitoring.scrapeFrom }}
{{- toYaml . }}
{{- else }}
- namespaceSelector: {}
{{- end }}
{{- end -}}

{{/* NetworkPolicy egress rules to the Kubernetes API server (global.networkPolicy.apiServer: its ports, to its CIDRs or anywhere). */}}
{{- define "airlines.apiServerEgress" -}}
{{- $api := .Values.global.networkPolicy.apiServer }}
- ports:
    {{- range $api.ports }}
    - port: {{ . }}
      protocol: TCP
    {{- end }}
  {{- with $api.cidrs }}
  to:
    {{- range . }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
  {{- end }}
{{- end -}}

{{/* Whether ServiceMonitors are rendered: wanted, and the prometheus-operator API exists. */}}
{{- define "airlines.serviceMonitors" -}}
{{- if and .Values.global.monitoring.serviceMonitor.enabled (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor") -}}true{{- end -}}
{{- end -}}

{{/*
A ServiceMonitor scraping /metrics of the Service of a component.
Usage: include "airlines.serviceMonitor" (dict "ctx" $ "component" "dashboard" "service" "dashboard" "port" "http")
*/}}
{{- define "airlines.serviceMonitor" -}}
{{- $monitor := .ctx.Values.global.monitoring.serviceMonitor }}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "airlines.name" (dict "ctx" .ctx "component" .component) }}
  namespace: {{ include "airlines.namespace" .ctx }}
  labels:
    {{- include "airlines.labels" (dict "ctx" .ctx "component" .component) | nindent 4 }}
    {{- with $monitor.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "airlines.selectorLabels" (dict "ctx" .ctx "component" .service) | nindent 6 }}
  namespaceSelector:
    matchNames:
      - {{ include "airlines.namespace" .ctx }}
  endpoints:
    - port: {{ .port }}
      path: /metrics
      interval: {{ $monitor.interval }}
{{- end -}}

{{/* Secret holding ZooKeeper's SASL passwords (kafka-password: the brokers' user
"kafka"; quorum-password: the servers' among themselves). */}}
{{- define "airlines.zookeeper.secretName" -}}
{{- include "airlines.name" (dict "ctx" . "component" "zookeeper-auth") -}}
{{- end -}}
