{{/* The release's name for every object: <release>-secureops unless the release is named secureops. */}}
{{- define "secureops.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "secureops.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* secureops.selector: labels selecting one component (dict "root" $ "component" "api"). */}}
{{- define "secureops.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "secureops.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "secureops.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "secureops.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "secureops.scannerImage" -}}
{{- printf "%s:%s" .Values.scannerImage.repository (default .Chart.AppVersion .Values.scannerImage.tag) -}}
{{- end -}}

{{/* secureops.secretEnv: the Secret's keys as variables; optional ones may be absent. */}}
{{- define "secureops.secretEnv" -}}
{{- $name := .Values.secrets.name -}}
{{- range $key := list "APP_DATABASE_PASSWORD" "TEMPORAL_CODEC_KEY" "SECUREOPS_SEAL_KEY" }}
- name: {{ $key }}
  valueFrom:
    secretKeyRef:
      name: {{ $name }}
      key: {{ $key }}
{{- end }}
{{- range $key := list "STRIPE_SECRET_KEY" "RESEND_API_KEY" "DEFECTDOJO_TOKEN" "TEMPORAL_API_KEY" "LLM_API_KEY" }}
- name: {{ $key }}
  valueFrom:
    secretKeyRef:
      name: {{ $name }}
      key: {{ $key }}
      optional: true
{{- end }}
{{- end -}}

{{/* secureops.podSpec: what every SecureOps pod shares (dict "root" $ "component" … "container" …). */}}
{{- define "secureops.podCommon" -}}
serviceAccountName: {{ include "secureops.serviceAccountName" .root }}
automountServiceAccountToken: false
terminationGracePeriodSeconds: {{ .root.Values.terminationGracePeriodSeconds }}
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "secureops.temporalTLSVolume" -}}
{{- if .Values.temporal.clientCertSecret }}
- name: temporal-tls
  secret:
    secretName: {{ .Values.temporal.clientCertSecret }}
{{- end }}
{{- end -}}

{{- define "secureops.temporalTLSMount" -}}
{{- if .Values.temporal.clientCertSecret }}
- name: temporal-tls
  mountPath: /etc/secureops/temporal-tls
  readOnly: true
{{- end }}
{{- end -}}
