package scanner

import (
	"context"
	"regexp"
	"strconv"

	"github.com/secureops/secureops/internal/targets"
)

// nmapScripts are NSE scripts from the "safe" and "default" categories
// (ssl-enum-ciphers is "intrusive" only for the number of handshakes it
// makes; the issue asks for it). Each has a portrule, so on a port that is
// neither TLS nor HTTP it simply does not run. Their output lands in the
// report's <script> elements, which the parser keeps as the open-port
// finding's evidence.
const nmapScripts = "ssl-cert,ssl-enum-ciphers,http-headers,http-title"

// nmap writes <taskprogress … percent="42.10" …/> into its XML every
// --stats-every interval; that is our progress signal.
var nmapProgress = regexp.MustCompile(`<taskprogress [^>]*percent="([0-9.]+)"`)

func (a *Activities) runNmap(ctx context.Context, j job) ([]byte, error) {
	return a.runProcess(ctx, j.in, process{path: j.bin, args: nmapArgs(j), progress: func(out []byte) (int, bool) {
		m := nmapProgress.FindAllSubmatch(out, -1)
		if len(m) == 0 {
			return 0, false
		}
		f, err := strconv.ParseFloat(string(m[len(m)-1][1]), 64)
		if err != nil {
			return 0, false
		}
		return int(f), true
	}})
}

func nmapArgs(j job) []string {
	// -sT works unprivileged; -Pn because the target was just resolved and
	// policy-checked, so host discovery only adds time; -n: we resolved already.
	args := []string{"-sT", "-sV", "-Pn", "-n", "--stats-every", "2s", "--script", nmapScripts}
	if !j.t.IsIP() {
		// nmap connects to the vetted address; the name only travels inside
		// the connection (SNI, Host header), so name-based virtual hosts
		// show their own certificate and pages. Normalised host names hold
		// no commas or quotes that could split the argument list.
		args = append(args, "--script-args", "tls.servername="+j.t.Host+",http.host="+j.t.Host)
	}
	args = append(args, "-oX", "-")
	if len(j.t.Ports) > 0 {
		args = append(args, "-p", targets.FormatPorts(j.t.Ports))
	}
	if j.addr.Is6() {
		args = append(args, "-6")
	}
	return append(args, j.addr.String())
}
