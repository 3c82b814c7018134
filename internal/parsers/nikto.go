package parsers

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net"
	"strings"

	"github.com/secureops/secureops/internal/findings"
)

// parseNikto reads both report formats DefectDojo's nikto parser accepts.
// DefectDojo picks by file extension; a report here has no name, so the
// content decides.
func parseNikto(data []byte) ([]findings.Finding, error) {
	b := trimLeft(data)
	if len(b) == 0 {
		return nil, malformed("nikto", "empty report", nil)
	}
	switch b[0] {
	case '<':
		return parseNiktoXML(b)
	case '{', '[':
		return parseNiktoJSON(b)
	}
	return nil, malformed("nikto", "neither XML nor JSON", nil)
}

type niktoDetails struct {
	TargetIP       string      `xml:"targetip,attr"`
	TargetHostname string      `xml:"targethostname,attr"`
	TargetPort     string      `xml:"targetport,attr"`
	SiteName       string      `xml:"sitename,attr"`
	HostHeader     string      `xml:"hostheader,attr"`
	Items          []niktoItem `xml:"item"`
}

type niktoItem struct {
	ID          *string `xml:"id,attr"`
	OSVDBID     *string `xml:"osvdbid,attr"`
	OSVDBLink   string  `xml:"osvdblink,attr"`
	Method      *string `xml:"method,attr"`
	Description *string `xml:"description"`
	URI         string  `xml:"uri"`
	NameLink    string  `xml:"namelink"`
	IPLink      *string `xml:"iplink"`
	References  string  `xml:"references"`
}

// parseNiktoXML follows dojo/tools/nikto/xml_parser.py. The old layout has
// <scandetails> directly under the root, and DefectDojo then reads only the
// first of them (root.find); the nxmlversion 1.2 layout nests one
// <niktoscan> per host and every one is read. Items are de-duplicated on
// their rendered host + description + method, so the same message on two
// URLs stays two findings.
func parseNiktoXML(b []byte) ([]findings.Finding, error) {
	d := newXMLDecoder(b)
	root, err := xmlRoot(d)
	if err != nil {
		return nil, malformed("nikto", "invalid XML", err)
	}
	if root.Name.Local != "niktoscan" {
		return nil, malformed("nikto", fmt.Sprintf("root element is <%s>, want <niktoscan>", root.Name.Local), nil)
	}
	var direct, nested []niktoDetails
	err = xmlChildren(d, func(se xml.StartElement) error {
		switch se.Name.Local {
		case "scandetails":
			if len(direct) > 0 {
				return d.Skip()
			}
			var sd niktoDetails
			if err := d.DecodeElement(&sd, &se); err != nil {
				return err
			}
			direct = append(direct, sd)
		case "niktoscan":
			var inner struct {
				Details []niktoDetails `xml:"scandetails"`
			}
			if err := d.DecodeElement(&inner, &se); err != nil {
				return err
			}
			nested = append(nested, inner.Details...)
		default:
			return d.Skip()
		}
		return nil
	})
	if err != nil {
		return nil, malformed("nikto", "invalid XML", err)
	}
	scans := nested
	if len(direct) > 0 {
		scans = direct
	}
	dd := newDedup()
	for i := range scans {
		for j := range scans[i].Items {
			niktoXMLItem(dd, &scans[i], &scans[i].Items[j])
		}
	}
	return dd.result(), nil
}

func niktoXMLItem(dd *dedup, sd *niktoDetails, it *niktoItem) {
	deref := func(p *string) string {
		if p == nil {
			return "None"
		}
		return *p
	}
	description := ""
	if it.Description != nil {
		description = *it.Description
	}
	title := firstSentence(description)
	// DefectDojo's key is the sha256 of exactly this text; hashing also
	// keeps huge descriptions out of the map.
	key := sha256.Sum256([]byte(fmt.Sprintf("**Host:** `%s`\n**Description:** `%s`\n**HTTP Method:** `%s`",
		deref(it.IPLink), deref(it.Description), deref(it.Method))))

	sev := findings.SeverityInfo
	if it.OSVDBID != nil && *it.OSVDBID != "0" {
		sev = findings.SeverityMedium
	}
	link := ""
	if it.IPLink != nil {
		link = strings.TrimSpace(*it.IPLink)
	}
	if link == "" {
		link = strings.TrimSpace(it.NameLink)
	}
	_, host, port := uriParts(link)
	if host == "" {
		host = sd.TargetIP
	}
	if port == 0 {
		port = parsePort(sd.TargetPort)
	}
	// A site scanned by address with -vhost (how our scanner runs nikto)
	// is the named site: its host is the name, as the other scanners of the
	// same target report it; the URL keeps the address nikto connected to.
	if vh := vhostName(sd.HostHeader); vh != "" {
		host = vh
	}
	method := ""
	if it.Method != nil {
		method = *it.Method
	}
	var desc textBuilder
	desc.para(description)
	desc.kv("Host", link)
	desc.kv("Name link", it.NameLink)
	target := sd.TargetHostname
	if sd.TargetIP != "" && sd.TargetIP != target {
		target = strings.TrimSpace(target + " (" + sd.TargetIP + ")")
	}
	desc.kv("Target", target)
	desc.kv("HTTP method", method)
	if it.OSVDBID != nil && *it.OSVDBID != "0" {
		desc.kv("OSVDB", *it.OSVDBID)
	}
	var ev textBuilder
	ev.kv("Request", strings.TrimSpace(method+" "+it.URI))
	if it.ID != nil {
		ev.kv("Nikto test", *it.ID)
	}
	f := findings.Finding{
		Title:       title,
		Severity:    sev,
		Host:        host,
		Port:        port,
		URL:         link,
		Description: desc.String(),
		Evidence:    ev.String(),
	}
	if port > 0 {
		f.Protocol = "tcp"
	}
	if l := strings.TrimSpace(it.OSVDBLink); l != "" {
		f.References = append(f.References, l)
	}
	for _, r := range strings.FieldsFunc(it.References, func(r rune) bool { return r == ',' || r == '\n' || r == ' ' }) {
		f.References = append(f.References, r)
	}
	dd.add(string(key[:]), f, strings.TrimSpace(method+" "+link))
}

type niktoJSONReport struct {
	Host            jstr                      `json:"host"`
	IP              jstr                      `json:"ip"`
	Port            jstr                      `json:"port"`
	Banner          jstr                      `json:"banner"`
	Vulnerabilities objList[niktoJSONFinding] `json:"vulnerabilities"`
}

type niktoJSONFinding struct {
	ID         jstr  `json:"id"`
	OSVDB      jstr  `json:"OSVDB"`
	Method     jstr  `json:"method"`
	URL        jstr  `json:"url"`
	Msg        jstr  `json:"msg"`
	References jlist `json:"references"`
}

// parseNiktoJSON follows dojo/tools/nikto/json_parser.py: findings are
// de-duplicated on severity + message, so one message reported for many
// URLs is one finding; a finding with a non-zero OSVDB id is Medium, the
// rest Info. DefectDojo accepts a one-element array around the report
// object; Nikto 2.5 writes one object per host in that array, and every
// host is read here (DefectDojo fails on more than one).
func parseNiktoJSON(b []byte) ([]findings.Finding, error) {
	var reports []niktoJSONReport
	if b[0] == '[' {
		var raws []json.RawMessage
		if err := json.Unmarshal(b, &raws); err != nil {
			return nil, jsonError("nikto", err)
		}
		for _, r := range raws {
			r = bytes.TrimSpace(r)
			if len(r) == 0 || r[0] != '{' {
				return nil, malformed("nikto", "array element is "+jsonKind(r)+", want an object", nil)
			}
			var rep niktoJSONReport
			if err := json.Unmarshal(r, &rep); err != nil {
				return nil, jsonError("nikto", err)
			}
			reports = append(reports, rep)
		}
	} else {
		var rep niktoJSONReport
		if err := json.Unmarshal(b, &rep); err != nil {
			return nil, jsonError("nikto", err)
		}
		reports = append(reports, rep)
	}
	dd := newDedup()
	for i := range reports {
		rep := &reports[i]
		host := rep.Host.s
		port := parsePort(rep.Port.s)
		for j := range rep.Vulnerabilities {
			v := &rep.Vulnerabilities[j]
			// Python: "OSVDB" in v and v["OSVDB"] != "0". A null is
			// treated as absent and a number by its text, where
			// DefectDojo would crash concatenating them.
			osvdb := v.OSVDB.present() && strings.TrimSpace(v.OSVDB.s) != "0"
			sev := findings.SeverityInfo
			if osvdb {
				sev = findings.SeverityMedium
			}
			key := string(sev) + "\x00" + v.Msg.pyStr()
			if dd.dup(key, strings.TrimSpace(v.Method.s+" "+host+v.URL.s)) {
				continue
			}
			title := v.Msg.s
			var desc textBuilder
			desc.para(v.Msg.s)
			desc.kv("Host", host)
			desc.kv("IP", rep.IP.s)
			desc.kv("Banner", rep.Banner.s)
			desc.kv("HTTP method", v.Method.s)
			desc.kv("URL path", v.URL.s)
			desc.kv("Nikto test", v.ID.s)
			if osvdb {
				desc.kv("OSVDB", v.OSVDB.s)
			}
			f := findings.Finding{
				Title:       title,
				Severity:    sev,
				Host:        host,
				Port:        port,
				Description: desc.String(),
				Evidence:    strings.TrimSpace(v.Method.s + " " + v.URL.s),
				References:  append([]string(nil), v.References...),
			}
			if port > 0 {
				f.Protocol = "tcp"
			}
			if osvdb {
				f.References = append(f.References, "OSVDB-"+strings.TrimSpace(v.OSVDB.s))
			}
			dd.add(key, f, "")
		}
	}
	return dd.result(), nil
}

// vhostName is the host name of a Host header nikto sent ("" for none or an
// address).
func vhostName(h string) string {
	h = strings.TrimSpace(h)
	if hh, _, err := net.SplitHostPort(h); err == nil {
		h = hh
	}
	h = strings.Trim(h, "[]")
	if h == "" || net.ParseIP(h) != nil {
		return ""
	}
	return strings.ToLower(h)
}
