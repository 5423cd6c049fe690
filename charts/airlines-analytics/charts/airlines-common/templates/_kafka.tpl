{{/*
Kafka security on the clients' side (producers, hook jobs, helm tests, the streaming job).
global.config.kafka.security says how every component talks to Kafka and names the files
it reads (airlines.config.chart.conventions: /etc/airlines/kafka/username and password, the CA
/etc/airlines/kafka-ca/ca.crt); each pod mounts there its OWN principal's Secret and the
CA, through the projected "config" volume that carries /etc/airlines/config.yaml too
(nested mounts inside a ConfigMap volume cannot be created).
*/}}

{{/* Whether the clients authenticate with SASL: "true" or "". */}}
{{- define "airlines.kafka.sasl" -}}
{{- if hasPrefix "SASL_" (toString .Values.global.config.kafka.security.protocol) -}}true{{- end -}}
{{- end -}}

{{/* Whether the clients read the CA from the chart's mount: "true" or "". */}}
{{- define "airlines.kafka.mountCa" -}}
{{- $security := .Values.global.config.kafka.security -}}
{{- if and (hasSuffix "SSL" (toString $security.protocol)) $security.tls -}}
{{- if eq (toString $security.tls.caFile) "/etc/airlines/kafka-ca/ca.crt" -}}true{{- end -}}
{{- end -}}
{{- end -}}

{{/* The system's SCRAM users (airlines.kafka.principals.principal_users), as JSON. */}}
{{- define "airlines.kafka.principalUsers" -}}
{{- $users := list "broker" "admin" -}}
{{- range .Values.global.config.topics -}}
{{- $users = append $users (printf "producer-%s" .region) -}}
{{- end -}}
{{- toJson (concat $users (list "streaming" "topics" "smoke")) -}}
{{- end -}}

{{/* Secret of one principal. Usage: include "airlines.kafka.userSecretName" (dict "ctx" $ "user" "smoke") */}}
{{- define "airlines.kafka.userSecretName" -}}
{{- $kafka := .ctx.Values.global.kafka -}}
{{- $generated := include "airlines.name" (dict "ctx" .ctx "component" (printf "kafka-user-%s" .user)) -}}
{{- default (default $generated (get ($kafka.userSecrets | default dict) .user)) $kafka.existingSecret -}}
{{- end -}}

{{/* Secret whose ca.crt the clients trust. */}}
{{- define "airlines.kafka.caSecretName" -}}
{{- $kafka := .Values.global.kafka -}}
{{- default (default (include "airlines.name" (dict "ctx" . "component" "kafka-tls")) $kafka.existingSecret) $kafka.caSecret -}}
{{- end -}}

{{/* A principal's password generation (global.kafka.credentialGenerations; 1 by default). */}}
{{- define "airlines.kafka.generation" -}}
{{- $generations := .ctx.Values.global.kafka.credentialGenerations | default dict -}}
{{- toString (get $generations .user | default 1) -}}
{{- end -}}

{{/*
Projected-volume sources of a principal's credentials and the CA (nothing when Kafka
needs neither). Usage: include "airlines.kafka.clientSources" (dict "ctx" $ "user" "smoke")
*/}}
{{- define "airlines.kafka.clientSources" -}}
{{- $security := .ctx.Values.global.config.kafka.security -}}
{{- if include "airlines.kafka.sasl" .ctx }}
- secret:
    name: {{ include "airlines.kafka.userSecretName" . }}
    items:
      {{- if $security.sasl.usernameFile }}
      - key: username
        path: kafka/username
      {{- end }}
      - key: password
        path: kafka/password
{{- end }}
{{- if include "airlines.kafka.mountCa" .ctx }}
- secret:
    name: {{ include "airlines.kafka.caSecretName" .ctx }}
    items:
      - key: ca.crt
        path: kafka-ca/ca.crt
{{- end }}
{{- end -}}

{{/*
The "config" volume of a pod: /etc/airlines/config.yaml, for a Kafka client its
principal's credentials and the CA, and for a Redis client its user's config.yaml (which
names the user), password and the Redis CA. Usage:
include "airlines.configVolume" (dict "ctx" $ "kafkaUser" "producer-east-coast" "redisUser" "writer" "name" "config")
("kafkaUser", "redisUser" and "name" optional).
*/}}
{{- define "airlines.configVolume" -}}
{{- $kafka := and .kafkaUser (include "airlines.kafka.clientSources" (dict "ctx" .ctx "user" .kafkaUser) | trim) -}}
- name: {{ .name | default "config" }}
  {{- if or $kafka .redisUser }}
  projected:
    defaultMode: 0440
    sources:
      - configMap:
          name: {{ include "airlines.configMapName" .ctx }}
          {{- if .redisUser }}
          items:
            - key: {{ include "airlines.redis.configKey" .redisUser }}
              path: config.yaml
          {{- end }}
      {{- if $kafka }}
      {{- include "airlines.kafka.clientSources" (dict "ctx" .ctx "user" .kafkaUser) | trim | nindent 6 }}
      {{- end }}
      {{- with and .redisUser (include "airlines.redis.clientSources" (dict "ctx" .ctx "user" .redisUser) | trim) }}
      {{- . | nindent 6 }}
      {{- end }}
  {{- else }}
  configMap:
    name: {{ include "airlines.configMapName" .ctx }}
  {{- end }}
{{- end -}}

{{/*
Pod annotation that changes when the principal's credentials or the Secret holding them
change, so its pods restart (and read the new password) on `helm upgrade`.
Usage: include "airlines.kafka.credentialsChecksum" (dict "ctx" $ "user" "smoke")
*/}}
{{- define "airlines.kafka.credentialsChecksum" -}}
{{- $global := .ctx.Values.global -}}
{{- $facts := dict "user" .user "secret" (include "airlines.kafka.userSecretName" .) "generation" (include "airlines.kafka.generation" .) "ca" (include "airlines.kafka.caSecretName" .ctx) "security" $global.config.kafka.security -}}
checksum/kafka-credentials: {{ toJson $facts | sha256sum }}
{{- end -}}
