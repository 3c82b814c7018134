package parsers

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"

	"github.com/secureops/secureops/internal/findings"
)

// parseSecureOps reads the native scanner's report: a JSON array of
// findings.Finding as json.Marshal writes it. The report is stored and
// can be uploaded, so it is read as untrusted input like any other:
// fingerprints are recomputed, the scanner is always "secureops", and
// fields outside their range are dropped by finish.
func parseSecureOps(data []byte) ([]findings.Finding, error) {
	b := trimLeft(data)
	if len(b) == 0 {
		return nil, malformed("secureops", "empty report", nil)
	}
	if b[0] != '[' {
		return nil, malformed("secureops", "want a JSON array of findings", nil)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	var out []findings.Finding
	if err := d.Decode(&out); err != nil {
		return nil, malformed("secureops", "invalid JSON", err)
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, malformed("secureops", "data after the findings array", err)
	}
	for i := range out {
		f := &out[i]
		f.Scanner = "secureops"
		if f.CVSSScore < 0 || f.CVSSScore > 10 {
			f.CVSSScore = 0
		}
	}
	return out, nil
}
