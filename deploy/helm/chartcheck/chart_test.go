// Package chartcheck renders deploy/helm/secureops with the Helm SDK (as a
// library, pinned in this module's go.mod) with the default and the
// production values, and decodes every manifest strictly into the
// Kubernetes API's Go types: an unknown or misspelt field, a wrong type or a
// duplicate key fails, without a cluster. Its own module keeps Helm's and
// Kubernetes' dependency graphs out of the product's go.mod; `make test`
// (scripts/test.sh) runs it.
package chartcheck

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

var (
	root     = func() string { p, _ := filepath.Abs("../../.."); return p }()
	chartDir = filepath.Join(root, "deploy/helm/secureops")
)

// TestMain quiets the loader's note about files/temporal-setup.sh, a
// symbolic link to deploy/temporal/setup.sh (one script for compose and the
// chart; `helm package` stores its content).
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	os.Exit(m.Run())
}

// scheme knows every built-in kind the chart may render.
var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme, autoscalingv2.AddToScheme,
		networkingv1.AddToScheme, policyv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}()

// ExternalSecret mirrors the fields of external-secrets.io/v1 ExternalSecret
// the chart writes (the operator's Go module is not worth its dependency
// graph here); strict decoding into it catches a misspelt field all the
// same.
type ExternalSecret struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		RefreshInterval string `json:"refreshInterval"`
		SecretStoreRef  struct {
			Name string `json:"name"`
			Kind string `json:"kind"`
		} `json:"secretStoreRef"`
		Target struct {
			Name           string `json:"name"`
			CreationPolicy string `json:"creationPolicy"`
		} `json:"target"`
		Data []struct {
			SecretKey string `json:"secretKey"`
			RemoteRef struct {
				Key      string `json:"key"`
				Property string `json:"property,omitempty"`
			} `json:"remoteRef"`
		} `json:"data"`
	} `json:"spec"`
}

// DeepCopyObject makes it a runtime.Object (the check never copies it).
func (e *ExternalSecret) DeepCopyObject() runtime.Object { c := *e; return &c }

// rendered is one release's manifests, decoded.
type rendered struct {
	objects []runtime.Object
	files   map[string]string
}

func (r rendered) find(kind, name string) runtime.Object {
	for _, o := range r.objects {
		m, _ := metaOf(o)
		if o.GetObjectKind().GroupVersionKind().Kind == kind && m.GetName() == name {
			return o
		}
	}
	return nil
}

func metaOf(o runtime.Object) (metav1.Object, error) {
	if es, ok := o.(*ExternalSecret); ok {
		return &es.ObjectMeta, nil
	}
	m, ok := o.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("%T has no metadata", o)
	}
	return m, nil
}

// render renders the chart as `helm install secureops -n secureops` would
// with the given values files (none: the defaults), on Kubernetes 1.31.
func render(t *testing.T, valuesFiles ...string) rendered {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	if err := ch.Validate(); err != nil {
		t.Fatalf("Chart.yaml: %v", err)
	}
	vals := map[string]any{}
	for _, f := range valuesFiles {
		v, err := common.ReadValuesFile(filepath.Join(chartDir, f))
		if err != nil {
			t.Fatal(err)
		}
		vals = util.MergeTables(v, vals)
	}
	kube, err := common.ParseKubeVersion("v1.31.0")
	if err != nil {
		t.Fatal(err)
	}
	caps := common.DefaultCapabilities.Copy()
	caps.KubeVersion = *kube
	top, err := util.ToRenderValuesWithSchemaValidation(ch, vals,
		common.ReleaseOptions{Name: "secureops", Namespace: "secureops", IsInstall: true, Revision: 1}, caps, false)
	if err != nil {
		t.Fatal(err)
	}
	out, err := engine.Engine{Strict: true}.Render(ch, top)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	r := rendered{files: out}
	names := make([]string, 0, len(out))
	for n := range out {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		if !strings.HasSuffix(name, ".yaml") {
			continue
		}
		for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(out[name], -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			o, err := decode([]byte(doc))
			if err != nil {
				t.Errorf("%s document %d: %v\n%s", name, i, err, doc)
				continue
			}
			r.objects = append(r.objects, o)
		}
	}
	return r
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// decode reads one manifest strictly into its API type.
func decode(doc []byte) (runtime.Object, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return nil, err
	}
	gvk := schema.FromAPIVersionAndKind(tm.APIVersion, tm.Kind)
	var o runtime.Object
	if gvk == (schema.GroupVersionKind{Group: "external-secrets.io", Version: "v1", Kind: "ExternalSecret"}) {
		o = &ExternalSecret{}
	} else {
		var err error
		if o, err = scheme.New(gvk); err != nil {
			return nil, fmt.Errorf("%s: not a Kubernetes API type this check knows: %w", gvk, err)
		}
	}
	if err := yaml.UnmarshalStrict(doc, o); err != nil {
		return nil, fmt.Errorf("%s: %w", gvk, err)
	}
	o.GetObjectKind().SetGroupVersionKind(gvk)
	return o, nil
}

// Helm's own linter (`helm lint --strict`) as a library.
func TestLint(t *testing.T) {
	for _, f := range []string{"values.yaml", "values-production.yaml"} {
		v, err := common.ReadValuesFile(filepath.Join(chartDir, f))
		if err != nil {
			t.Fatal(err)
		}
		l := lint.RunAll(chartDir, v, "secureops")
		for _, m := range l.Messages {
			if m.Severity >= support.WarningSev {
				t.Errorf("%s: %s", f, m)
			}
		}
	}
}

// drain is the processes' shutdown timeout, read from internal/config.
func drain(t *testing.T) int64 {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, "internal/config/config.go"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`ShutdownTimeout:\s*(\d+)\s*\*\s*time\.Second`).FindSubmatch(src)
	if m == nil {
		t.Fatal("internal/config/config.go no longer sets ShutdownTimeout as N * time.Second: update this test")
	}
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return n
}

func hooks(o metav1.Object) []string {
	return strings.Split(o.GetAnnotations()["helm.sh/hook"], ",")
}

// Issue 17: what the chart must hold, with the default values (a
// self-hosted Temporal cluster).
func TestDefaultValues(t *testing.T) {
	r := render(t)
	const name = "secureops"
	kinds := map[string]int{}
	for _, o := range r.objects {
		kinds[o.GetObjectKind().GroupVersionKind().Kind]++
	}
	t.Logf("rendered: %v", kinds)

	// The API: probes on /healthz and /readyz, an HPA, a PDB, a Service.
	api, ok := r.find("Deployment", name+"-api").(*appsv1.Deployment)
	if !ok {
		t.Fatalf("no API Deployment in %v", kinds)
	}
	c := api.Spec.Template.Spec.Containers[0]
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("API probes: readiness %+v, liveness %+v", c.ReadinessProbe, c.LivenessProbe)
	}
	if hpa, ok := r.find("HorizontalPodAutoscaler", name+"-api").(*autoscalingv2.HorizontalPodAutoscaler); !ok || hpa.Spec.ScaleTargetRef.Name != api.Name || api.Spec.Replicas != nil {
		t.Errorf("the API's HPA: %v (the Deployment must leave replicas to it: %v)", hpa, api.Spec.Replicas)
	}
	if r.find("PodDisruptionBudget", name+"-api") == nil || r.find("Service", name+"-api") == nil {
		t.Error("the API has no PodDisruptionBudget or Service")
	}

	// One worker Deployment per task queue, drained before the kill.
	grace := drain(t)
	for _, q := range []string{"scans", "onboarding", "scanners"} {
		d, ok := r.find("Deployment", name+"-worker-"+q).(*appsv1.Deployment)
		if !ok {
			t.Errorf("no worker Deployment for queue %s", q)
			continue
		}
		spec := d.Spec.Template.Spec
		if !slices.Contains(spec.Containers[0].Args, "--queues="+q) {
			t.Errorf("worker %s: args %v", q, spec.Containers[0].Args)
		}
		if spec.TerminationGracePeriodSeconds == nil || *spec.TerminationGracePeriodSeconds <= grace {
			t.Errorf("worker %s: terminationGracePeriodSeconds %v, want above the %d s drain", q, spec.TerminationGracePeriodSeconds, grace)
		}
		image := spec.Containers[0].Image
		if (q == "scanners") != strings.HasPrefix(image, "secureops-scanner:") {
			t.Errorf("worker %s runs %s", q, image)
		}
		if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
			t.Errorf("worker %s mounts a service account token", q)
		}
	}
	cm, _ := r.find("ConfigMap", name).(*corev1.ConfigMap)
	if cm == nil || cm.Data["SCANNER_MAX_CONCURRENT"] != "4" || cm.Data["NUCLEI_PATH"] == "" || cm.Data["DB_POOL_MAX_CONNS"] == "" {
		t.Errorf("ConfigMap: %v", cm)
	} else if strings.Contains(cm.Data["APP_DATABASE_URL"], ":@") || strings.Count(cm.Data["APP_DATABASE_URL"], ":") > 2 {
		t.Errorf("APP_DATABASE_URL %q carries a password", cm.Data["APP_DATABASE_URL"])
	}
	// Second factors default to the portal's host and origin (production
	// refuses them unset; issue 18).
	if cm != nil && (cm.Data["WEBAUTHN_RP_ID"] != "secureops.example.com" || cm.Data["WEBAUTHN_RP_ORIGINS"] != "https://secureops.example.com" || cm.Data["TOTP_ISSUER"] != "SecureOps") {
		t.Errorf("second-factor settings: %q %q %q", cm.Data["TOTP_ISSUER"], cm.Data["WEBAUTHN_RP_ID"], cm.Data["WEBAUTHN_RP_ORIGINS"])
	}

	// migrate before every install and upgrade; Temporal setup before it,
	// running the same script compose runs.
	mig, ok := r.find("Job", name+"-migrate").(*batchv1.Job)
	if !ok || !slices.Contains(hooks(mig), "pre-upgrade") || !slices.Contains(hooks(mig), "pre-install") {
		t.Errorf("migrate Job: %v", mig)
	} else if mig.Spec.Template.Spec.Containers[0].Args[0] != "migrate" {
		t.Errorf("migrate Job runs %v", mig.Spec.Template.Spec.Containers[0].Args)
	}
	setup, ok := r.find("Job", name+"-temporal-setup").(*batchv1.Job)
	if !ok || !slices.Contains(hooks(setup), "pre-install") {
		t.Errorf("Temporal setup Job: %v", setup)
	}
	script, _ := os.ReadFile(filepath.Join(root, "deploy/temporal/setup.sh"))
	if scm, ok := r.find("ConfigMap", name+"-temporal-setup").(*corev1.ConfigMap); !ok || scm.Data["setup.sh"] != string(script) {
		t.Error("the Temporal setup ConfigMap does not carry deploy/temporal/setup.sh as it is")
	}

	// Secrets are referenced, never written by default (ExternalSecret-ready).
	if r.find("Secret", "secureops") != nil {
		t.Error("the default values render a Secret")
	}
	refs := 0
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			refs++
			if e.ValueFrom.SecretKeyRef.Name != "secureops" {
				t.Errorf("%s from Secret %s", e.Name, e.ValueFrom.SecretKeyRef.Name)
			}
		}
		if e.Value != "" && strings.Contains(strings.ToUpper(e.Name), "KEY") {
			t.Errorf("%s is a literal", e.Name)
		}
	}
	if refs < 4 {
		t.Errorf("the API reads %d values from the Secret", refs)
	}

	// Scanners: the internet, never cluster, private or metadata addresses.
	np, ok := r.find("NetworkPolicy", name+"-scanners").(*networkingv1.NetworkPolicy)
	if !ok {
		t.Fatal("no NetworkPolicy for the scanners")
	}
	var v4 *networkingv1.IPBlock
	for _, e := range np.Spec.Egress {
		for _, p := range e.To {
			if p.IPBlock != nil && p.IPBlock.CIDR == "0.0.0.0/0" {
				v4 = p.IPBlock
			}
			if p.IPBlock != nil && (strings.HasPrefix(p.IPBlock.CIDR, "10.") || strings.HasPrefix(p.IPBlock.CIDR, "169.254.")) {
				t.Errorf("scanners may reach %s", p.IPBlock.CIDR)
			}
		}
	}
	if v4 == nil {
		t.Fatal("scanners may not reach the internet")
	}
	for _, closed := range []string{"169.254.0.0/16", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"} {
		if !slices.Contains(v4.Except, closed) {
			t.Errorf("scanners may reach %s", closed)
		}
	}
	if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
		t.Error("the scanners' policy does not restrict egress")
	}

	// The Ingress keeps event streams open and unbuffered.
	ing, ok := r.find("Ingress", name).(*networkingv1.Ingress)
	if !ok || ing.Annotations["nginx.ingress.kubernetes.io/proxy-buffering"] != "off" {
		t.Errorf("Ingress: %v", ing)
	} else if s, _ := strconv.Atoi(ing.Annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]); s < 600 {
		t.Errorf("the Ingress cuts streams after %d s", s)
	}
}

// Issue 17: Temporal Cloud, a managed PostgreSQL, an external secret store.
func TestProductionValues(t *testing.T) {
	r := render(t, "values-production.yaml")
	const name = "secureops"
	es, ok := r.find("ExternalSecret", "secureops").(*ExternalSecret)
	if !ok || len(es.Spec.Data) < 4 || es.Spec.Target.Name != "secureops" {
		t.Errorf("ExternalSecret: %+v", es)
	}
	if r.find("Job", name+"-temporal-setup") != nil {
		t.Error("the Temporal setup Job runs against Temporal Cloud")
	}
	cm, _ := r.find("ConfigMap", name).(*corev1.ConfigMap)
	if cm == nil || cm.Data["TEMPORAL_TLS"] != "true" || !strings.HasSuffix(cm.Data["TEMPORAL_ADDRESS"], ".tmprl.cloud:7233") ||
		!strings.Contains(cm.Data["APP_DATABASE_URL"], "sslmode=verify-full") {
		t.Errorf("ConfigMap: %v", cm)
	}
	np, _ := r.find("NetworkPolicy", name+"-scanners").(*networkingv1.NetworkPolicy)
	found := false
	for _, e := range np.Spec.Egress {
		for _, p := range e.To {
			found = found || (p.IPBlock != nil && p.IPBlock.CIDR == "10.0.42.0/24")
		}
	}
	if !found {
		t.Error("scanners cannot reach the managed database's range")
	}
	for _, q := range []string{"scans", "scanners"} {
		if r.find("HorizontalPodAutoscaler", name+"-worker-"+q) == nil {
			t.Errorf("no HPA for the %s workers", q)
		}
	}
}

// A field the API does not know fails the check (the check itself works).
func TestStrictDecodingRefusesUnknownFields(t *testing.T) {
	_, err := decode([]byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replica: 2\n"))
	if err == nil {
		t.Error("a misspelt field was accepted")
	}
	if _, err := decode([]byte("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: x}\n")); err == nil {
		t.Error("an unknown kind was accepted")
	}
}

// values.schema.json refuses a misspelt or out-of-range value before
// anything renders.
func TestValuesSchemaRefusesTypos(t *testing.T) {
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	for name, vals := range map[string]map[string]any{
		"misspelt key":        {"workers": map[string]any{"scanners": map[string]any{"maxConcurent": 4}}},
		"grace below drain":   {"terminationGracePeriodSeconds": 20},
		"unknown mode":        {"mode": "staging"},
		"unknown top-level":   {"replicas": 3},
		"number in config":    {"config": map[string]any{"SCAN_CONCURRENCY": 5}},
		"unknown scanner var": {"scanners": map[string]any{"NMAP": "/usr/bin/nmap"}},
	} {
		_, err := util.ToRenderValuesWithSchemaValidation(ch, vals, common.ReleaseOptions{Name: "secureops", Namespace: "secureops"}, nil, false)
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
