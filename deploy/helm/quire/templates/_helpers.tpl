{{- define "quire.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "quire.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "quire.labels" -}}
{{ include "quire.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{- define "quire.image" -}}
{{ printf "%s:%s" .Values.image.repository .Values.image.tag | quote }}
{{- end -}}

{{/* The environment of every Quire container: the plain settings and the existing Secret. */}}
{{- define "quire.envFrom" -}}
envFrom:
  - configMapRef:
      name: {{ include "quire.fullname" . }}
  - secretRef:
      name: {{ .Values.existingSecret }}
{{- end -}}

{{/* Pod-level fields shared by the Quire pods (not inference). */}}
{{- define "quire.podCommon" -}}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  - name: tmp
    emptyDir: {}
  - name: data
    emptyDir: {}
{{- end -}}

{{- define "quire.volumeMounts" -}}
volumeMounts:
  - name: tmp
    mountPath: /tmp
  - name: data
    mountPath: /var/lib/quire
{{- end -}}

{{- define "quire.podAnnotations" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- end -}}

{{/* `celery inspect ping` to this pod's own worker: the liveness of a worker or of beat's broker link. */}}
{{- define "quire.workerProbe" -}}
exec:
  command:
    - sh
    - -c
    - celery -A quire inspect ping --destination "{{ . }}@${HOSTNAME}" --timeout 10 | grep -q pong
initialDelaySeconds: 60
periodSeconds: 120
timeoutSeconds: 30
failureThreshold: 3
{{- end -}}

{{/* A web probe: `/healthz` (liveness, no dependency) or `/readyz` (readiness: the database, Redis and the
broker answer); the Host header is one of QUIRE_ALLOWED_HOSTS. */}}
{{- define "quire.httpProbe" -}}
httpGet:
  path: {{ . }}
  port: http
  httpHeaders:
    - name: Host
      value: localhost
{{- end -}}
