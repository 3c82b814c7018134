package dojo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ScanTypes maps our report formats to DefectDojo's scan_type names.
var ScanTypes = map[string]string{
	"nmap":      "Nmap Scan",
	"nikto":     "Nikto Scan",
	"zap":       "ZAP Scan",
	"trivy":     "Trivy Scan",
	"nuclei":    "Nuclei Scan",
	"generic":   "Generic Findings Import",
	"secureops": "Generic Findings Import", // converted, see activities/defectdojo
}

// ReimportRequest is one /api/v2/reimport-scan/ call.
type ReimportRequest struct {
	ScanType       string
	ProductName    string
	EngagementName string
	TestTitle      string
	// BuildID marks the import as ours (the scan and scanner), so an import
	// whose answer was lost can be found again in the test's import history.
	BuildID  string
	ScanDate time.Time
	FileName string
	File     []byte
}

// ReimportResult is what DefectDojo answered.
type ReimportResult struct {
	TestID int64 `json:"test_id"`
}

// Reimport sends a report into the product's test (created when missing,
// old findings closed when absent from the report).
func (c *Client) Reimport(ctx context.Context, r ReimportRequest) (ReimportResult, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fields := [][2]string{
		{"scan_type", r.ScanType},
		{"product_name", r.ProductName},
		{"engagement_name", r.EngagementName},
		{"test_title", r.TestTitle},
		{"auto_create_context", "true"},
		{"close_old_findings", "true"},
		{"active", "true"},
		{"verified", "false"},
		{"minimum_severity", "Info"},
		{"build_id", r.BuildID},
		{"scan_date", r.ScanDate.UTC().Format("2006-01-02")},
	}
	for _, f := range fields {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			return ReimportResult{}, err
		}
	}
	fw, err := mw.CreateFormFile("file", r.FileName)
	if err != nil {
		return ReimportResult{}, err
	}
	if _, err := fw.Write(r.File); err != nil {
		return ReimportResult{}, err
	}
	if err := mw.Close(); err != nil {
		return ReimportResult{}, err
	}
	const path = "/reimport-scan/"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/api/v2"+path, &buf)
	if err != nil {
		return ReimportResult{}, err
	}
	req.Header.Set("Authorization", "Token "+c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := c.http.Do(req)
	if err != nil {
		return ReimportResult{}, fmt.Errorf("defectdojo POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := strings.TrimSpace(string(raw))
		if len(msg) > 500 {
			msg = msg[:500]
		}
		return ReimportResult{}, &APIError{Method: http.MethodPost, Path: path, Status: resp.StatusCode, Body: msg}
	}
	// Versions differ: some answer "test", some "test_id" (or both).
	var out struct {
		Test   json.Number `json:"test"`
		TestID json.Number `json:"test_id"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return ReimportResult{}, fmt.Errorf("defectdojo POST %s: decode: %w", path, err)
	}
	id, _ := out.TestID.Int64()
	if id == 0 {
		id, _ = out.Test.Int64()
	}
	if id == 0 {
		return ReimportResult{}, fmt.Errorf("defectdojo POST %s: the answer names no test", path)
	}
	return ReimportResult{TestID: id}, nil
}

type testImport struct {
	ID      int64  `json:"id"`
	Test    int64  `json:"test"`
	BuildID string `json:"build_id"`
}

// FindImport looks up an earlier import by its build id; 0 when none.
func (c *Client) FindImport(ctx context.Context, buildID string) (int64, error) {
	var p page[testImport]
	if err := c.Do(ctx, http.MethodGet, "/test_imports/", url.Values{"build_id": {buildID}, "limit": {strconv.Itoa(50)}}, nil, &p); err != nil {
		return 0, err
	}
	for _, ti := range p.Results {
		if ti.BuildID == buildID { // the filter matches substrings
			return ti.Test, nil
		}
	}
	return 0, nil
}
