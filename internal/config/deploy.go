package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// Deployment is what sizes one process against its neighbours: database
// connections, concurrent scanner runs, and the scanners the deployment's
// scanner workers have installed.
type Deployment struct {
	// DatabasePassword and AppDatabasePassword are the passwords of the
	// roles in DATABASE_URL and APP_DATABASE_URL, passed apart from the URL
	// so that any generated password works unencoded (DATABASE_PASSWORD_FILE,
	// APP_DATABASE_PASSWORD_FILE or APP_DATABASE_PASSWORD). Empty: the URL's
	// own password, else libpq's PGPASSWORD (honoured by pgx).
	DatabasePassword    string
	AppDatabasePassword string
	// DBPoolMaxConns caps this process's connection pool (DB_POOL_MAX_CONNS,
	// default DefaultDBPoolMaxConns); pool_max_conns in the URL wins. Size it
	// so replicas × pool plus Kratos and migrate stay under Postgres'
	// max_connections.
	DBPoolMaxConns int
	// ScannerMaxConcurrent caps the scanner activities one scanners-queue
	// worker runs at once (SCANNER_MAX_CONCURRENT, the SDK's
	// MaxConcurrentActivityExecutionSize; its own default is 1,000).
	ScannerMaxConcurrent int
	// Temporal over TLS (Temporal Cloud, a TLS frontend): TEMPORAL_TLS=true,
	// implied by any of the others. TEMPORAL_API_KEY (or _FILE) for Cloud's
	// API keys; TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY (files) for mTLS;
	// TEMPORAL_TLS_CA (file) for a private CA; TEMPORAL_TLS_SERVER_NAME.
	TemporalTLS           bool
	TemporalAPIKey        string
	TemporalTLSCert       string
	TemporalTLSKey        string
	TemporalTLSCA         string
	TemporalTLSServerName string
}

// DefaultDBPoolMaxConns is a process's pool when neither the URL nor
// DB_POOL_MAX_CONNS says otherwise: fixed, not the host's core count, so
// the connections a deployment uses follow its replica count only.
const DefaultDBPoolMaxConns = 10

// DefaultScannerMaxConcurrent is how many scanner processes (nmap, nikto,
// trivy, nuclei) one scanner worker runs at once by default.
const DefaultScannerMaxConcurrent = 4

func loadDeployment(c *Config) error {
	d := Deployment{DBPoolMaxConns: DefaultDBPoolMaxConns, ScannerMaxConcurrent: DefaultScannerMaxConcurrent}
	for _, n := range []struct {
		name string
		dst  *int
	}{{"DB_POOL_MAX_CONNS", &d.DBPoolMaxConns}, {"SCANNER_MAX_CONCURRENT", &d.ScannerMaxConcurrent}} {
		if v := strings.TrimSpace(os.Getenv(n.name)); v != "" {
			i, err := strconv.Atoi(v)
			if err != nil || i < 1 || i > 10000 {
				return fmt.Errorf("%s=%q: want a positive integer", n.name, v)
			}
			*n.dst = i
		}
	}
	// "none" says a scanner is not installed (nmap and nikto are by default).
	for _, p := range []*string{&c.NmapPath, &c.NiktoPath, &c.ZAPPath, &c.TrivyPath, &c.NucleiPath} {
		if *p == "none" {
			*p = ""
		}
	}
	var err error
	if d.DatabasePassword, err = secretSetting("DATABASE_PASSWORD"); err != nil {
		return err
	}
	if d.AppDatabasePassword, err = secretSetting("APP_DATABASE_PASSWORD"); err != nil {
		return err
	}
	if d.TemporalAPIKey, err = secretSetting("TEMPORAL_API_KEY"); err != nil {
		return err
	}
	d.TemporalTLSCert, d.TemporalTLSKey = os.Getenv("TEMPORAL_TLS_CERT"), os.Getenv("TEMPORAL_TLS_KEY")
	d.TemporalTLSCA, d.TemporalTLSServerName = os.Getenv("TEMPORAL_TLS_CA"), os.Getenv("TEMPORAL_TLS_SERVER_NAME")
	if (d.TemporalTLSCert == "") != (d.TemporalTLSKey == "") {
		return fmt.Errorf("TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together (mTLS)")
	}
	if v := os.Getenv("TEMPORAL_TLS"); v != "" {
		if d.TemporalTLS, err = strconv.ParseBool(v); err != nil {
			return fmt.Errorf("TEMPORAL_TLS=%q: want true or false", v)
		}
	}
	d.TemporalTLS = d.TemporalTLS || d.TemporalAPIKey != "" || d.TemporalTLSCert != "" || d.TemporalTLSCA != ""
	for _, u := range []struct{ name, v string }{{"DATABASE_URL", c.DatabaseURL}, {"APP_DATABASE_URL", c.AppDatabaseURL}} {
		if err := checkDSN(u.name, u.v); err != nil {
			return err
		}
	}
	c.Deployment = d
	return nil
}

// secretSetting reads NAME_FILE (the file's content without its final line
// break: Docker and Kubernetes secrets are files) or else NAME.
func secretSetting(name string) (string, error) {
	if f := os.Getenv(name + "_FILE"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("%s_FILE: %w", name, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return os.Getenv(name), nil
}

// checkDSN explains a database URL that does not parse: the usual cause is
// a generated password spliced into it unencoded.
func checkDSN(name, dsn string) error {
	if dsn == "" || !strings.Contains(dsn, "://") {
		return nil // empty, or libpq keyword=value form
	}
	if _, err := url.Parse(dsn); err != nil {
		// The parse error is left out: it quotes a piece of the URL, which
		// may be a piece of the password.
		return fmt.Errorf("%s does not parse as a URL: a password with reserved characters (/ + = @ : ? #) must be percent-encoded; "+
			"better, leave the password out of the URL and pass it in %s_FILE, %s or PGPASSWORD", name, passwordSetting(name), passwordSetting(name))
	}
	return nil
}

func passwordSetting(urlName string) string { return strings.TrimSuffix(urlName, "_URL") + "_PASSWORD" }

// InstalledScanners are the scanners this deployment's scanner workers
// have, as their settings say: nmap and nikto unless NMAP_PATH or NIKTO_PATH
// is set to "none", ZAP, Trivy and Nuclei when ZAP_PATH, TRIVY_PATH and
// NUCLEI_PATH name them, and the built-in secureops checks always. Every
// process reads the same settings (compose's shared environment, the Helm
// chart's ConfigMap), so the API offers and accepts only these.
func (c Config) InstalledScanners() map[string]bool {
	set := func(p string) bool { return p != "" }
	return map[string]bool{
		"secureops": true,
		"nmap":      set(c.NmapPath),
		"nikto":     set(c.NiktoPath),
		"zap":       set(c.ZAPPath),
		"trivy":     set(c.TrivyPath),
		"nuclei":    set(c.NucleiPath),
	}
}

// TemporalTLSConfig is the TLS of the Temporal connection; nil: plain gRPC.
func (d Deployment) TemporalTLSConfig() (*tls.Config, error) {
	if !d.TemporalTLS {
		return nil, nil
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: d.TemporalTLSServerName}
	if d.TemporalTLSCert != "" {
		cert, err := tls.LoadX509KeyPair(d.TemporalTLSCert, d.TemporalTLSKey)
		if err != nil {
			return nil, fmt.Errorf("TEMPORAL_TLS_CERT/TEMPORAL_TLS_KEY: %w", err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	if d.TemporalTLSCA != "" {
		pem, err := os.ReadFile(d.TemporalTLSCA)
		if err != nil {
			return nil, fmt.Errorf("TEMPORAL_TLS_CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("TEMPORAL_TLS_CA: no PEM certificate in %s", d.TemporalTLSCA)
		}
		t.RootCAs = pool
	}
	return t, nil
}
