{{- define "polyaxon.fullname" -}}
{{- printf "%s-polyaxon" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "polyaxon.labels" -}}
app.kubernetes.io/name: polyaxon
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "polyaxon.selector" -}}
app.kubernetes.io/name: polyaxon
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "polyaxon.secretName" -}}
{{- .Values.existingSecret | default (include "polyaxon.fullname" .) -}}
{{- end -}}

{{- define "polyaxon.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}

{{/* the environment of every component: the configuration, the secret, the home */}}
{{- define "polyaxon.env" -}}
- name: POLYAXON_HOME
  value: /var/lib/polyaxon
- name: POLYAXON_SCHEDULER
  value: celery
- name: POLYAXON_ORCHESTRATOR
  value: external
- name: POLYAXON_API_HOST
  value: {{ .Values.apiHost | default (printf "http://%s-server:%d" (include "polyaxon.fullname" .) (int .Values.server.service.port)) | quote }}
- name: POLYAXON_DB_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "polyaxon.secretName" . }}
      key: POLYAXON_DB_URL
- name: POLYAXON_BROKER_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "polyaxon.secretName" . }}
      key: POLYAXON_BROKER_URL
{{- end -}}

{{/* what every container shares: image, configuration, a writable home, no privileges */}}
{{- define "polyaxon.container" -}}
image: {{ include "polyaxon.image" . }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
envFrom:
  - configMapRef:
      name: {{ include "polyaxon.fullname" . }}
volumeMounts:
  - name: home
    mountPath: /var/lib/polyaxon
securityContext:
  allowPrivilegeEscalation: false
  capabilities:
    drop: [ALL]
{{- end -}}
