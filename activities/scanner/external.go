package scanner

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/targets"
)

// runTrivy scans a container image; trivy pulls it from its registry, so no
// address of the tenant is involved. It runs with none of the worker's
// credentials: a tenant names the image, so whatever trivy can pull with,
// the tenant could read.
func (a *Activities) runTrivy(ctx context.Context, j job) ([]byte, error) {
	home, err := os.MkdirTemp("", "secureops-trivy-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(home)
	return a.runProcess(ctx, j.in, process{path: j.bin, args: trivyArgs(j), env: registryEnv(home), isolated: true})
}

func trivyArgs(j job) []string {
	// The reference is normalised by targets.Parse and cannot start with "-".
	// --image-src remote: never a local Docker or containerd daemon, whose
	// images (and credentials) belong to the worker's host.
	return []string{"image", "--image-src", "remote", "--format", "json", "--quiet", "--scanners", "vuln", j.t.Image}
}

// passedEnv are the worker's variables a registry client may see: how to
// reach the network and where its caches live, no credentials.
var passedEnv = []string{
	"PATH", "LANG", "LC_ALL", "TZ", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
	"TRIVY_CACHE_DIR", "TRIVY_DB_REPOSITORY", "TRIVY_JAVA_DB_REPOSITORY", "TRIVY_SKIP_DB_UPDATE",
	"TRIVY_SKIP_JAVA_DB_UPDATE", "TRIVY_OFFLINE_SCAN",
}

// registryEnv is the whole environment of a registry client: the allowed
// variables, an empty home and Docker config (no stored logins or credential
// helpers), and the clouds' metadata services switched off so no instance
// role is used to pull.
func registryEnv(home string) []string {
	var env []string
	for _, k := range passedEnv {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	if _, ok := os.LookupEnv("TRIVY_CACHE_DIR"); !ok {
		// Keep the vulnerability database across scans, outside the empty home.
		if dir, err := os.UserCacheDir(); err == nil {
			env = append(env, "TRIVY_CACHE_DIR="+filepath.Join(dir, "trivy"))
		}
	}
	return append(env,
		"HOME="+home,
		"DOCKER_CONFIG="+filepath.Join(home, ".docker"),
		"AWS_EC2_METADATA_DISABLED=true",
		"GCE_METADATA_HOST=127.0.0.1:1",
		"NO_GCE_CHECK=true",
	)
}

// checkRegistry refuses an image whose registry is not allowed or resolves to
// an address the platform must not reach. The tenant learns which registries
// are allowed, never what a name resolved to.
func (a *Activities) checkRegistry(ctx context.Context, t targets.Target) error {
	if err := a.Policy.CheckImage(t); err != nil {
		return nonRetryable(err)
	}
	host, _ := t.RegistryHost()
	addrs := []netip.Addr{}
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = append(addrs, ip)
	} else {
		var r targets.Resolver = net.DefaultResolver
		if a.Resolver != nil {
			r = a.Resolver
		}
		if addrs, err = r.LookupNetIP(ctx, "ip", host); err != nil {
			a.logger(ctx).Warn("resolving an image registry failed", "registry", host, "error", err)
			return fmt.Errorf("the image's registry %s could not be resolved", t.ImageRegistry())
		}
	}
	for _, ad := range addrs {
		if err := a.Policy.CheckRegistryAddr(ad); err != nil {
			a.logger(ctx).Warn("image registry refused by the address policy", "registry", host, "error", err)
			return temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("images from %s cannot be scanned from this platform", t.ImageRegistry()), scan.ErrTargetNotAllowed, nil)
		}
	}
	return nil
}

// runNuclei runs nuclei with its JSON Lines findings on stdout.
func (a *Activities) runNuclei(ctx context.Context, j job) ([]byte, error) {
	return a.runProcess(ctx, j.in, process{path: j.bin, args: nucleiArgs(j)})
}

// nucleiArgs points nuclei at the vetted address. Nuclei has no option to
// pin a name to an address (-resolvers only picks DNS servers, which would
// still answer whatever the name's owner wants at scan time), so the URL
// carries the address and a Host header carries the name. The trade-off:
// name-based HTTP virtual hosts are scanned correctly, but TLS gets the
// address as SNI (an SNI-routed site may present its default certificate
// and site), and templates that print the host show the address.
// -disable-redirects keeps nuclei from following a redirect to the name,
// which it would resolve itself; -no-interactsh keeps out-of-band payloads
// (and the tenant's data in them) away from public interaction servers.
func nucleiArgs(j job) []string {
	inputs, host := nucleiTargets(j)
	var args []string
	for _, in := range inputs {
		args = append(args, "-u", in)
	}
	if host != "" {
		args = append(args, "-H", "Host: "+host)
	}
	return append(args, "-jsonl", "-silent", "-disable-update-check", "-no-interactsh", "-disable-redirects", "-exclude-tags", "dos")
}

// nucleiTargets returns the inputs nuclei connects to (one per listed port)
// and, for a named target, the Host header that names it.
func nucleiTargets(j job) (inputs []string, host string) {
	if !j.t.IsIP() {
		host = j.t.Host
	}
	if j.t.Kind == targets.KindURL {
		if u, err := url.Parse(j.t.URL); err == nil {
			if host != "" {
				host = u.Host // the name, and the port when the URL has one
			}
			u.Host = hostPort(j.addr, u.Port())
			return []string{u.String()}, host
		}
	}
	// A bare host (no scheme): nuclei probes it over https and http itself.
	if len(j.t.Ports) == 0 {
		return []string{hostPort(j.addr, "")}, host
	}
	for _, p := range j.t.Ports {
		inputs = append(inputs, hostPort(j.addr, strconv.Itoa(p)))
	}
	// One -H applies to every input, so only a single port can be named in
	// it; with several, the bare name still selects the virtual host.
	if host != "" && len(j.t.Ports) == 1 {
		host = net.JoinHostPort(host, strconv.Itoa(j.t.Ports[0]))
	}
	return inputs, host
}

func hostPort(addr netip.Addr, port string) string {
	if port == "" {
		if addr.Is6() {
			return "[" + addr.String() + "]"
		}
		return addr.String()
	}
	return net.JoinHostPort(addr.String(), port)
}

// zapEmptyReport is what an unreachable target yields, in ZAP's XML format:
// no web server, nothing found (as nikto and nmap report it).
const zapEmptyReport = "<?xml version=\"1.0\"?>\n<OWASPZAPReport></OWASPZAPReport>\n"

// runZAP runs ZAP's quick scan (spider, then active scan) and reads its XML
// report. ZAP is a JVM, so the name is pinned to the vetted address the JVM
// way: jdk.net.hosts.file replaces DNS for the whole process with a file
// that holds only that mapping. The URL keeps the name (correct SNI, Host
// header and cookies), redirects to the name stay on the address, and any
// other name ZAP meets does not resolve at all.
func (a *Activities) runZAP(ctx context.Context, j job) ([]byte, error) {
	target, ok := zapURL(ctx, j)
	if !ok {
		return []byte(zapEmptyReport), nil
	}
	dir, err := os.MkdirTemp("", "secureops-zap-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	hosts := filepath.Join(dir, "hosts")
	pin := "# only the address the scan policy accepted\n"
	if !j.t.IsIP() {
		pin += j.addr.String() + " " + j.t.Host + "\n"
	}
	if err := os.WriteFile(hosts, []byte(pin), 0o600); err != nil {
		return nil, err
	}
	out := filepath.Join(dir, "report.xml")
	javaOpts := "-Djdk.net.hosts.file=" + hosts
	if v := os.Getenv("JAVA_TOOL_OPTIONS"); v != "" {
		javaOpts = v + " " + javaOpts
	}
	_, err = a.runProcess(ctx, j.in, process{
		path: j.bin,
		args: zapArgs(target, filepath.Join(dir, "home"), out),
		env:  []string{"JAVA_TOOL_OPTIONS=" + javaOpts},
	})
	if err != nil {
		return nil, err
	}
	b, err := readBounded(out)
	if err != nil {
		return nil, fmt.Errorf("zap wrote no report: %w", err)
	}
	return b, nil
}

// zapArgs: -silent stops ZAP's own calls home (update and news checks);
// -dir gives each run its own home, since two ZAPs cannot share one.
func zapArgs(target, home, out string) []string {
	return []string{"-cmd", "-silent", "-dir", home, "-quickurl", target, "-quickout", out, "-quickprogress"}
}

// zapURL is the URL ZAP starts from: a url target's own, else the first web
// endpoint on the host (https on 443 before http on 80; the lowest open
// listed port). ZAP's quick scan takes one URL, and its spider follows
// links from there.
func zapURL(ctx context.Context, j job) (string, bool) {
	if j.t.Kind == targets.KindURL {
		return j.t.URL, true
	}
	eps := webEndpoints(ctx, j)
	if len(eps) == 0 {
		return "", false
	}
	ep := eps[0]
	scheme := "http"
	if ep.TLS {
		scheme = "https"
	}
	host := j.t.Host
	if (ep.TLS && ep.Port != 443) || (!ep.TLS && ep.Port != 80) {
		host = net.JoinHostPort(j.t.Host, strconv.Itoa(ep.Port))
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return (&url.URL{Scheme: scheme, Host: host, Path: "/"}).String(), true
}
