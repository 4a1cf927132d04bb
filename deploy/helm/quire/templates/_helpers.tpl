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

{{/* Where documents and page images are stored on local disk: QUIRE_MEDIA_ROOT, by default the image's
QUIRE_DATA_DIR (/var/lib/quire) plus /media, as quire/settings.py makes it. */}}
{{- define "quire.mediaRoot" -}}
{{- .Values.config.QUIRE_MEDIA_ROOT | default "/var/lib/quire/media" -}}
{{- end -}}

{{/* Documents must be stored where every pod that reads or writes them sees them: web stores uploads and
renders page images, ingest workers read uploads and delete orphaned files, jobs workers delete documents and
their page images past a tenant's retention. Either S3 (config.QUIRE_S3_BUCKET) or one ReadWriteMany claim
(storage.mediaClaim) that those pods mount at the media root; each pod's /var/lib/quire is its own emptyDir,
so file storage without a claim would install a release whose every upload fails to ingest. */}}
{{- define "quire.storageCheck" -}}
{{- $bucket := .Values.config.QUIRE_S3_BUCKET | default "" -}}
{{- $claim := .Values.storage.mediaClaim | default "" -}}
{{- if and (not $bucket) (not $claim) -}}
{{- fail "documents need storage that web and the workers share, and each pod's /var/lib/quire is its own emptyDir: set config.QUIRE_S3_BUCKET (documents on S3, as values-production.yaml does) or storage.mediaClaim (an existing ReadWriteMany PersistentVolumeClaim, mounted at the media root in web and the ingest and jobs workers)" -}}
{{- end -}}
{{- if and $bucket $claim -}}
{{- fail (printf "config.QUIRE_S3_BUCKET and storage.mediaClaim are both set: with a bucket documents are stored on S3 and the claim %q would be mounted unused; set one of them" $claim) -}}
{{- end -}}
{{- end -}}

{{/* The queues whose workers read or write stored files, and so mount storage.mediaClaim: ingest (reads each
upload, deletes orphaned files) and jobs (retention deletes documents and their page images). The webhooks
and billing workers touch no file. */}}
{{- define "quire.mediaQueues" -}}
ingest jobs
{{- end -}}

{{/* Pod-level fields shared by the Quire pods (not inference), given (dict "root" $ "media" bool): with
`media` and storage.mediaClaim, the claim is a volume too. */}}
{{- define "quire.podCommon" -}}
{{- $root := .root -}}
automountServiceAccountToken: false
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  - name: tmp
    emptyDir: {}
  - name: data
    emptyDir: {}
  {{- if and .media $root.Values.storage.mediaClaim }}
  - name: media
    persistentVolumeClaim:
      claimName: {{ $root.Values.storage.mediaClaim | quote }}
  {{- end }}
{{- end -}}

{{/* The container's mounts, given the same dict as quire.podCommon: scratch space of its own at /tmp and
/var/lib/quire, and the shared media claim at the media root. */}}
{{- define "quire.volumeMounts" -}}
{{- $root := .root -}}
volumeMounts:
  - name: tmp
    mountPath: /tmp
  - name: data
    mountPath: /var/lib/quire
  {{- if and .media $root.Values.storage.mediaClaim }}
  - name: media
    mountPath: {{ include "quire.mediaRoot" $root | quote }}
  {{- end }}
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
