package parsers

import (
	"encoding/xml"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/secureops/secureops/internal/findings"
)

type nmapHost struct {
	Addresses []struct {
		Addr     string `xml:"addr,attr"`
		AddrType string `xml:"addrtype,attr"`
	} `xml:"address"`
	Hostnames []struct {
		Name string `xml:"name,attr"`
		Type string `xml:"type,attr"`
	} `xml:"hostnames>hostname"`
	OSMatches []struct {
		Name     string `xml:"name,attr"`
		Accuracy string `xml:"accuracy,attr"`
	} `xml:"os>osmatch"`
	Ports []nmapPort `xml:"ports>port"`
}

type nmapPort struct {
	Protocol string `xml:"protocol,attr"`
	PortID   string `xml:"portid,attr"`
	State    *struct {
		State  string `xml:"state,attr"`
		Reason string `xml:"reason,attr"`
	} `xml:"state"`
	Service *struct {
		Name      string   `xml:"name,attr"`
		Product   string   `xml:"product,attr"`
		Version   string   `xml:"version,attr"`
		ExtraInfo string   `xml:"extrainfo,attr"`
		OSType    string   `xml:"ostype,attr"`
		Tunnel    string   `xml:"tunnel,attr"`
		CPEs      []string `xml:"cpe"`
	} `xml:"service"`
	Scripts []nmapScript `xml:"script"`
}

type nmapScript struct {
	ID     string      `xml:"id,attr"`
	Output string      `xml:"output,attr"`
	Tables []nmapTable `xml:"table"`
}

// nmapTable is NSE structured output. Nesting is unbounded in the format;
// encoding/xml caps unmarshal depth, so hostile nesting is an error, not a
// stack overflow.
type nmapTable struct {
	Key    string      `xml:"key,attr"`
	Tables []nmapTable `xml:"table"`
	Elems  []struct {
		Key   string `xml:"key,attr"`
		Value string `xml:",chardata"`
	} `xml:"elem"`
}

// parseNmap follows dojo/tools/nmap/parser.py: one Info finding per open
// port, de-duplicated on the port number alone (DefectDojo's key is
// "nmap:<port>", so 443 open on three hosts is one finding with three
// endpoints), plus one finding per vulners entry, de-duplicated on the
// vulners id across the whole report. Vulners findings of a port are
// recorded before the port's own finding, which fixes the output order.
func parseNmap(data []byte) ([]findings.Finding, error) {
	d := newXMLDecoder(trimLeft(data))
	root, err := xmlRoot(d)
	if err != nil {
		return nil, malformed("nmap", "invalid XML", err)
	}
	if !strings.Contains(root.Name.Local, "nmaprun") {
		return nil, malformed("nmap", fmt.Sprintf("root element is <%s>, want <nmaprun>", root.Name.Local), nil)
	}
	dd := newDedup()
	err = xmlChildren(d, func(se xml.StartElement) error {
		if se.Name.Local != "host" {
			return d.Skip()
		}
		var h nmapHost
		if err := d.DecodeElement(&h, &se); err != nil {
			return err
		}
		nmapHostFindings(dd, &h)
		return nil
	})
	if err != nil {
		return nil, malformed("nmap", "invalid XML", err)
	}
	return dd.result(), nil
}

func nmapHostFindings(dd *dedup, h *nmapHost) {
	var ipv4, ipv6, mac string
	for _, a := range h.Addresses {
		switch a.AddrType {
		case "ipv4":
			if ipv4 == "" {
				ipv4 = a.Addr
			}
		case "ipv6":
			if ipv6 == "" {
				ipv6 = a.Addr
			}
		case "mac":
			if mac == "" {
				mac = a.Addr
			}
		}
	}
	var names []string
	for _, hn := range h.Hostnames {
		if hn.Name != "" {
			names = append(names, hn.Name)
		}
	}
	host := ipv4
	if host == "" {
		host = ipv6
	}
	if host == "" && len(names) > 0 {
		host = names[0]
	}
	if host == "" {
		host = mac
	}

	var hostInfo textBuilder
	hostInfo.kv("IP address", ipv4)
	hostInfo.kv("IPv6 address", ipv6)
	hostInfo.kv("MAC address", mac)
	hostInfo.kv("Hostnames", strings.Join(names, ", "))
	for _, os := range h.OSMatches {
		if os.Name == "" {
			continue
		}
		v := os.Name
		if os.Accuracy != "" {
			v += " (accuracy " + os.Accuracy + "%)"
		}
		hostInfo.kv("Host OS", v)
	}

	for i := range h.Ports {
		p := &h.Ports[i]
		if p.State == nil || p.State.State != "open" {
			continue
		}
		port := parsePort(p.PortID)
		proto := strings.ToLower(p.Protocol)
		where := fmt.Sprintf("%s:%s/%s", host, p.PortID, proto)

		var svcName, product, version string
		var cpes []string
		if p.Service != nil {
			svcName, product, version, cpes = p.Service.Name, p.Service.Product, p.Service.Version, p.Service.CPEs
		}
		component := product
		if component == "" {
			component = svcName
		}

		for _, s := range p.Scripts {
			if s.ID == "vulners" {
				nmapVulners(dd, &s, host, port, proto, where, product, version)
			}
		}

		title := fmt.Sprintf("Open port %s/%s", p.PortID, proto)
		if svcName != "" {
			title += ": " + svcName
		}
		var desc textBuilder
		desc.WriteString(hostInfo.String())
		desc.kv("Port/Protocol", p.PortID+"/"+proto)
		if p.State.Reason != "" {
			desc.kv("State", "open ("+p.State.Reason+")")
		}
		if p.Service != nil {
			desc.kv("Service", svcName)
			desc.kv("Product", product)
			desc.kv("Version", version)
			desc.kv("Extra info", p.Service.ExtraInfo)
			desc.kv("OS type", p.Service.OSType)
			desc.kv("Tunnel", p.Service.Tunnel)
			desc.kv("CPE", strings.Join(cpes, ", "))
		}
		var ev textBuilder
		for _, s := range p.Scripts {
			if out := strings.TrimSpace(s.Output); out != "" {
				ev.para(s.ID + ":\n" + out)
			}
		}
		f := findings.Finding{
			Title:            title,
			Severity:         findings.SeverityInfo,
			Component:        component,
			ComponentVersion: version,
			Host:             host,
			Port:             port,
			Protocol:         proto,
			RuleID:           "open-port",
			Description:      desc.String(),
			Evidence:         ev.String(),
		}
		// DefectDojo keys on str(endpoint.port), which is "None" when
		// portid is not a number.
		key := "nmap:None"
		if isDigits(p.PortID) {
			key = "nmap:" + canonicalDigits(p.PortID)
		}
		dd.add(key, f, where)
	}
}

func nmapVulners(dd *dedup, s *nmapScript, host string, port int, proto, where, product, version string) {
	for _, tbl := range s.Tables {
		cpeProduct, cpeVersion := cpeParts(tbl.Key)
		for _, vuln := range tbl.Tables {
			attrs := map[string]string{}
			var order []string
			for _, e := range vuln.Elems {
				k := strings.ToLower(e.Key)
				if _, ok := attrs[k]; !ok {
					order = append(order, k)
				}
				attrs[k] = e.Value
			}
			id := strings.TrimSpace(attrs["id"])
			if id == "" {
				continue
			}
			score, err := strconv.ParseFloat(strings.TrimSpace(attrs["cvss"]), 64)
			if err != nil || score != score || score < 0 || score > 10 {
				score = 0
			}
			typ := strings.TrimSpace(attrs["type"])

			comp, ver := product, version
			if comp == "" {
				comp = cpeProduct
			}
			if ver == "" {
				ver = cpeVersion
			}
			title := id
			if comp != "" {
				title = strings.TrimSpace(id + ": " + comp + " " + ver)
			}
			var desc textBuilder
			desc.kv("Vulnerability", id)
			desc.kv("CPE", tbl.Key)
			for _, k := range order {
				if k != "id" {
					desc.kv(k, attrs[k])
				}
			}
			desc.kv("Location", where)
			f := findings.Finding{
				Title:            title,
				Severity:         findings.SeverityFromCVSS(score),
				CVSSScore:        score,
				Component:        comp,
				ComponentVersion: ver,
				Host:             host,
				Port:             port,
				Protocol:         proto,
				RuleID:           id,
				Description:      desc.String(),
				Evidence:         "vulners: " + tbl.Key + " " + id,
			}
			if strings.EqualFold(typ, "cve") || isCVE(id) {
				f.CVEs = []string{id}
			}
			if typ != "" {
				f.References = []string{"https://vulners.com/" + url.PathEscape(typ) + "/" + url.PathEscape(id)}
			}
			dd.add(id, f, where)
		}
	}
}

// cpeParts returns product and version from a CPE 2.2 URI
// ("cpe:/a:openbsd:openssh:7.4") or 2.3 string ("cpe:2.3:a:openbsd:...").
func cpeParts(cpe string) (product, version string) {
	cpe = strings.TrimSpace(cpe)
	var fields []string
	switch {
	case strings.HasPrefix(strings.ToLower(cpe), "cpe:2.3:"):
		fields = strings.Split(cpe[len("cpe:2.3:"):], ":")
	case strings.HasPrefix(strings.ToLower(cpe), "cpe:/"):
		fields = strings.Split(cpe[len("cpe:/"):], ":")
	default:
		return "", ""
	}
	get := func(i int) string {
		if i >= len(fields) {
			return ""
		}
		v := fields[i]
		if v == "*" || v == "-" {
			return ""
		}
		if u, err := url.PathUnescape(v); err == nil {
			v = u
		}
		return strings.ReplaceAll(v, `\`, "")
	}
	return get(2), get(3)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// canonicalDigits is str(int(s)) for an all-digit s, without overflow.
func canonicalDigits(s string) string {
	s = strings.TrimLeft(s, "0")
	if s == "" {
		return "0"
	}
	return s
}
