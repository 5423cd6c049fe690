{{/*
Redis: one ACL user per kind of client (airlines.config.chart.conventions.REDIS_USERS), each with a
Secret of its own (`username`, `password`), mounted as files where the programs read
them (global.config.redis as each pod's config.yaml says: /etc/airlines/redis/password,
the CA /etc/airlines/redis-ca/ca.crt). The server writes its users from the same files at
start; the `default` user is off.
*/}}

{{/* The chart's Redis users, as JSON: the sink's writer, the reader (dashboard, `airlines
query`), the admin (cluster formation, the bootstrap hook, helm test) and the replicas'
replication user (masteruser). */}}
{{- define "airlines.redis.users" -}}
{{- toJson (list "writer" "reader" "admin" "replication") -}}
{{- end -}}

{{/* Whether the clients log in as the chart's ACL users: auth on, and no external
Redis's password (global.redis.auth.existingSecret, only with redis-cluster.enabled false). */}}
{{- define "airlines.redis.acl" -}}
{{- $auth := .Values.global.redis.auth -}}
{{- if and $auth.enabled (not $auth.existingSecret) -}}true{{- end -}}
{{- end -}}

{{/* Secret of one user. Usage: include "airlines.redis.userSecretName" (dict "ctx" $ "user" "writer") */}}
{{- define "airlines.redis.userSecretName" -}}
{{- $secrets := .ctx.Values.global.redis.userSecrets | default dict -}}
{{- default (include "airlines.name" (dict "ctx" .ctx "component" (printf "redis-user-%s" .user))) (get $secrets .user) -}}
{{- end -}}

{{/* A user's password generation (global.redis.credentialGenerations; 1 by default). */}}
{{- define "airlines.redis.generation" -}}
{{- $generations := .ctx.Values.global.redis.credentialGenerations | default dict -}}
{{- toString (get $generations .user | default 1) -}}
{{- end -}}

{{/* Whether Redis and its clients speak TLS (global.redis.tls.enabled). */}}
{{- define "airlines.redis.tls" -}}
{{- if .Values.global.redis.tls.enabled -}}true{{- end -}}
{{- end -}}

{{/* Secret whose ca.crt the clients trust: global.redis.caSecret, else the chart's
(the generated CA's or cert-manager's). */}}
{{- define "airlines.redis.caSecretName" -}}
{{- default (include "airlines.name" (dict "ctx" . "component" "redis-tls")) .Values.global.redis.caSecret -}}
{{- end -}}

{{/* Where a Redis client reads its credentials and CA (airlines.config.chart.conventions). */}}
{{- define "airlines.redis.passwordFile" -}}/etc/airlines/redis/password{{- end -}}
{{- define "airlines.redis.caFile" -}}/etc/airlines/redis-ca/ca.crt{{- end -}}

{{/* The ConfigMap key of a Redis user's config.yaml (mounted as /etc/airlines/config.yaml). */}}
{{- define "airlines.redis.configKey" -}}
{{- printf "config-redis-%s.yaml" . -}}
{{- end -}}

{{/*
Projected-volume sources of a Redis user's password and the CA (nothing without ACL
users and TLS). Usage: include "airlines.redis.clientSources" (dict "ctx" $ "user" "writer")
*/}}
{{- define "airlines.redis.clientSources" -}}
{{- $auth := .ctx.Values.global.redis.auth -}}
{{- if include "airlines.redis.acl" .ctx }}
- secret:
    name: {{ include "airlines.redis.userSecretName" . }}
    items:
      - key: password
        path: redis/password
{{- else if and $auth.enabled $auth.existingSecret }}
- secret:
    name: {{ $auth.existingSecret }}
    items:
      - key: {{ include "airlines.redis.secretKey" .ctx }}
        path: redis/password
{{- end }}
{{- if include "airlines.redis.tls" .ctx }}
- secret:
    name: {{ include "airlines.redis.caSecretName" .ctx }}
    items:
      - key: ca.crt
        path: redis-ca/ca.crt
{{- end }}
{{- end -}}

{{/*
Pod annotation that changes when the Redis user's credentials or the Secret holding them
change, so its pods restart (and read the new password) on `helm upgrade`.
Usage: include "airlines.redis.credentialsChecksum" (dict "ctx" $ "user" "writer")
*/}}
{{- define "airlines.redis.credentialsChecksum" -}}
{{- $facts := dict "user" .user "secret" (include "airlines.redis.userSecretName" .) "generation" (include "airlines.redis.generation" .) "ca" (include "airlines.redis.caSecretName" .ctx) "tls" (include "airlines.redis.tls" .ctx) -}}
checksum/redis-credentials: {{ toJson $facts | sha256sum }}
{{- end -}}

{{/*
ACL rules of each user. The reader's are the dashboard's (airlines.store.readonly.
acl_rules; a chart test keeps the two equal): read commands on the analytics keys only.
The writer's are exactly what the sink sends (airlines.contract.redis_layout, redis_sink): writes
of hashes, sorted sets and sets with their expiry under the key prefix, WAIT, and the
cluster's slot map. Neither may FLUSHALL, FLUSHDB, CONFIG, DEBUG or KEYS: -@all and an
allow-list. The replication user may only replicate (masteruser); the admin is the
cluster's operator.
Usage: include "airlines.redis.aclRules" (dict "ctx" $ "user" "writer")
*/}}
{{- define "airlines.redis.aclRules" -}}
{{- $prefix := .ctx.Values.global.config.redis.keyPrefix -}}
{{- if eq .user "reader" -}}
resetkeys resetchannels -@all %R~{{ $prefix }}:* +auth +command +echo +exists +hello +hget +hgetall +ping +readonly +sismember +smembers +zcard +zrange +zrevrange +client|getname +client|id +client|setname +cluster|info +cluster|myid +cluster|nodes +cluster|shards +cluster|slots
{{- else if eq .user "writer" -}}
resetkeys resetchannels -@all ~{{ $prefix }}:* +auth +hello +ping +echo +hset +expire +zadd +zremrangebyrank +zremrangebyscore +sadd +wait +asking +client|setname +client|id +cluster|slots +cluster|shards +cluster|nodes +cluster|info +cluster|myid
{{- else if eq .user "replication" -}}
resetkeys resetchannels -@all +psync +replconf +ping
{{- else if eq .user "admin" -}}
resetkeys resetchannels ~* &* +@all
{{- else -}}
{{- fail (printf "airlines.redis.aclRules: unknown user %q" .user) -}}
{{- end -}}
{{- end -}}
