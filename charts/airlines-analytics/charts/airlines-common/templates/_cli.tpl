{{/*
Pods that run the project's `airlines` CLI (producers, hook jobs, helm tests) all read
/etc/airlines/config.yaml from the config ConfigMap and their Kafka and Redis credentials
(when they need them) as files beside it (airlines.configVolume). They write only to /tmp (an emptyDir): the root filesystem is read-only. A
command that needs no config (the SparkApplication's apply hook) leaves it out.
*/}}

{{/* Volumes of a CLI pod: the config (with the Kafka principal's credentials and the
CA, for a Kafka client) and /tmp.
Usage: include "airlines.cli.volumes" (dict "ctx" $ "kafkaUser" "topics" "redisUser" "admin")
("kafkaUser", "redisUser" optional) */}}
{{- define "airlines.cli.volumes" -}}
{{ include "airlines.configVolume" . }}
{{ include "airlines.cli.tmpVolume" .ctx }}
{{- end -}}

{{/* The writable /tmp of a CLI pod (without the config: a command that reads none). */}}
{{- define "airlines.cli.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end -}}

{{/* Volume mounts of a CLI container (the config volume named "config" unless
.configVolume names another). */}}
{{- define "airlines.cli.volumeMounts" -}}
- name: {{ .configVolume | default "config" }}
  mountPath: /etc/airlines
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* Environment of a CLI container (no AIRLINES_CONFIG with "config" false). No
passwords: they are files in the config volume. */}}
{{- define "airlines.cli.env" -}}
- name: HOME
  value: /tmp
- name: PYTHONUNBUFFERED
  value: "1"
- name: PYTHONDONTWRITEBYTECODE
  value: "1"
{{- if or (not (hasKey . "config")) .config }}
- name: AIRLINES_CONFIG
  value: /etc/airlines/config.yaml
{{- end }}
{{- end -}}

{{/*
A container running `airlines <args>` from the project's CLI image.
Usage: include "airlines.cli.container" (dict "ctx" $ "name" "topics" "args" (list "topics" "ensure") "resources" .Values.x.resources)
Optional: "config" false (no config mount, no AIRLINES_CONFIG), "configVolume" (the
volume mounted at /etc/airlines, "config" by default), "mounts" (list of extra
volumeMounts).
*/}}
{{- define "airlines.cli.container" -}}
{{- $config := or (not (hasKey . "config")) .config -}}
- name: {{ .name }}
  image: {{ include "airlines.projectImage" (dict "ctx" .ctx "name" "producer") }}
  imagePullPolicy: {{ .ctx.Values.global.images.producer.pullPolicy }}
  command: ["airlines"]
  args:
    {{- range .args }}
    - {{ . | quote }}
    {{- end }}
  env:
    {{- include "airlines.cli.env" . | nindent 4 }}
  volumeMounts:
    {{- if $config }}
    {{- include "airlines.cli.volumeMounts" (dict "configVolume" .configVolume) | nindent 4 }}
    {{- else }}
    - name: tmp
      mountPath: /tmp
    {{- end }}
    {{- with .mounts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  securityContext:
    {{- include "airlines.containerSecurityContext" (dict "readOnlyRootFilesystem" true) | nindent 4 }}
  resources:
    {{- include "airlines.resources" .resources | nindent 4 }}
{{- end -}}

{{/* Pod-level settings of a CLI pod: identity, security, pull secrets. No API token
unless "token" true (only a command that calls the Kubernetes API). */}}
{{- define "airlines.cli.podSpec" -}}
serviceAccountName: {{ include "airlines.serviceAccountName" (dict "ctx" .ctx "component" .serviceAccount) }}
automountServiceAccountToken: {{ and (hasKey . "token") .token | ternary "true" "false" }}
securityContext:
  {{- include "airlines.podSecurityContext" 10001 | nindent 2 }}
{{- include "airlines.imagePullSecrets" .ctx }}
{{- end -}}

{{/* Changes when global.config changes, so pods that read the config restart on upgrade. */}}
{{- define "airlines.configChecksum" -}}
{{- toJson (dict "config" .Values.global.config "redis" .Values.global.redis) | sha256sum -}}
{{- end -}}
