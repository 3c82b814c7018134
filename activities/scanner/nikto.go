package scanner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/contract/scan"
)

// niktoPlugins is nikto's default plugin set without the plugins that
// change the target or guess at it: put_del_test uploads and deletes files,
// auth guesses credentials, apacheusers enumerates accounts, siebel attacks
// Siebel installations; report_metasploit would write to a Metasploit
// database. Tuning x6 leaves out the denial-of-service tests.
const (
	niktoPlugins = "@@DEFAULT;-put_del_test;-auth;-apacheusers;-siebel;-report_metasploit"
	niktoTuning  = "x6"
)

// With -Display P the tests plugin prints
// "- STATUS: Completed 500 tests (~8% complete, 12 seconds left: …)".
var niktoProgress = regexp.MustCompile(`STATUS: Completed \d+ tests \(~(\d+)% complete`)

// runNikto runs nikto once per web endpoint. Nikto 2.1.5 writes invalid XML
// for more than one port per run (each host opens a <niktoscan> and only
// the last is closed) and a stray </niktoscan> when it finds no web server,
// so each run writes its own file and the report is the runs' <niktoscan>
// elements under one root: the multi-host layout the parser reads in full.
func (a *Activities) runNikto(ctx context.Context, j job) ([]byte, error) {
	eps := webEndpoints(ctx, j)
	dir, err := os.MkdirTemp("", "secureops-nikto-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	maxTime := a.NiktoMaxTime
	if maxTime <= 0 {
		maxTime = time.Hour
	}
	var report bytes.Buffer
	report.WriteString("<?xml version=\"1.0\"?>\n<niktoscan>\n")
	for i, ep := range eps {
		file := filepath.Join(dir, "port-"+strconv.Itoa(ep.Port)+".xml")
		_, err := a.runProcess(ctx, j.in, process{
			path:     j.bin,
			args:     niktoArgs(j, ep, maxTime, file),
			progress: scaledProgress(niktoProgress, i, len(eps)),
		})
		if err != nil {
			return nil, err
		}
		b, err := readBounded(file)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("nikto wrote no report for port %d", ep.Port)
		}
		if err != nil {
			return nil, err
		}
		// No "<niktoscan " when nikto found no web server on the port.
		if k := bytes.Index(b, []byte("<niktoscan ")); k >= 0 {
			report.Write(bytes.TrimSpace(b[k:]))
			report.WriteByte('\n')
		}
		if report.Len() > maxReport {
			return nil, temporal.NewNonRetryableApplicationError("nikto report larger than 100 MB", scan.ErrReportTooLarge, nil)
		}
	}
	report.WriteString("</niktoscan>\n")
	return report.Bytes(), nil
}

func niktoArgs(j job, ep endpoint, maxTime time.Duration, file string) []string {
	args := []string{"-h", j.addr.String(), "-p", strconv.Itoa(ep.Port)}
	if ep.TLS {
		args = append(args, "-ssl")
	} else {
		// Otherwise nikto may fall back to TLS on its own; the probe decided.
		args = append(args, "-nossl")
	}
	if !j.t.IsIP() {
		// The connection goes to the vetted address, the Host header names
		// the site, so name-based virtual hosts are scanned as themselves.
		args = append(args, "-vhost", j.t.Host)
	}
	if root := niktoRoot(ep.Path); root != "" {
		args = append(args, "-root", root)
	}
	secs := int(maxTime / time.Second)
	if secs < 1 {
		secs = 1
	}
	return append(args,
		"-nointeractive", "-ask", "no",
		"-nolookup", // we resolved once; nikto must not look the name up again
		"-maxtime", strconv.Itoa(secs)+"s",
		"-Tuning", niktoTuning,
		"-Plugins", niktoPlugins,
		"-Display", "P",
		"-Format", "xml", "-o", file,
	)
}

// niktoRoot is the directory of a URL target's path, which nikto prepends
// to every request: "/app/" and "/app" are the application under /app,
// "/app/index.php" a page in it.
func niktoRoot(p string) string {
	if !strings.HasSuffix(p, "/") && strings.Contains(path.Base(p), ".") {
		p = path.Dir(p)
	}
	p = strings.TrimRight(p, "/")
	if p == "" {
		return ""
	}
	return (&url.URL{Path: p}).EscapedPath()
}

// scaledProgress reads a percentage with re and maps it into part i of n,
// for scanners that run once per endpoint.
func scaledProgress(re *regexp.Regexp, i, n int) func([]byte) (int, bool) {
	return func(out []byte) (int, bool) {
		m := re.FindAllSubmatch(out, -1)
		if len(m) == 0 {
			if i == 0 {
				return 0, false
			}
			return i * 100 / n, true
		}
		p, err := strconv.Atoi(string(m[len(m)-1][1]))
		if err != nil {
			return 0, false
		}
		return (i*100 + min(p, 100)) / n, true
	}
}

// readBounded reads a report file a scanner wrote, refusing one over the
// report limit without reading it all.
func readBounded(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxReport+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxReport {
		return nil, temporal.NewNonRetryableApplicationError("scanner report larger than 100 MB", scan.ErrReportTooLarge, nil)
	}
	return b, nil
}
