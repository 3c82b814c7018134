package targets

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/distribution/reference"
)

// DefaultImageRegistries are the public registries images may be pulled from
// when IMAGE_REGISTRIES is not set. An entry "*.example.com" allows every
// sub-domain of example.com.
var DefaultImageRegistries = []string{
	"docker.io", "ghcr.io", "quay.io", "gcr.io", "*.gcr.io", "*.pkg.dev", "registry.k8s.io",
	"public.ecr.aws", "mcr.microsoft.com", "registry.gitlab.com",
}

// ImageRegistry is the registry host (and port, if any) an image is pulled
// from: "docker.io" for "nginx", "10.0.0.5:5000" for "10.0.0.5:5000/x".
func (t Target) ImageRegistry() string {
	if t.Kind != KindImage {
		return ""
	}
	ref, err := reference.ParseNormalizedNamed(t.Image)
	if err != nil {
		return ""
	}
	return reference.Domain(ref)
}

// CheckImage refuses an image whose registry is not allowed: not in the
// configured list (Policy.ImageRegistries, else DefaultImageRegistries), or
// spelled as an address (or a name for one) the policy forbids. The scanner
// checks the registry's resolved addresses again when it pulls.
func (p Policy) CheckImage(t Target) error {
	reg := t.ImageRegistry()
	if reg == "" {
		return fmt.Errorf("%w: %q is not an image reference", ErrInvalid, t.Image)
	}
	host := reg
	if h, _, err := net.SplitHostPort(reg); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	// A registry the operator named exactly is theirs to trust, internal
	// names included; every other one must look public.
	if !slices.Contains(p.ImageRegistries, strings.ToLower(reg)) {
		if err := p.CheckName(host); err != nil {
			return err
		}
	}
	allowed := p.ImageRegistries
	if allowed == nil {
		allowed = DefaultImageRegistries
	}
	if !registryAllowed(allowed, reg) {
		return fmt.Errorf("%w: images from %s cannot be scanned; allowed registries: %s", ErrNotAllowed, reg, strings.Join(allowed, ", "))
	}
	return nil
}

func registryAllowed(allowed []string, reg string) bool {
	reg = strings.ToLower(reg)
	if slices.Contains(allowed, reg) {
		return true
	}
	for _, a := range allowed {
		if suffix, ok := strings.CutPrefix(a, "*"); ok && strings.HasPrefix(suffix, ".") && strings.HasSuffix(reg, suffix) {
			return true
		}
	}
	return false
}

// RegistryHost is the host an image's registry is reached at (Docker Hub's
// API lives at registry-1.docker.io) and its port, "" for the default.
func (t Target) RegistryHost() (host, port string) {
	reg := t.ImageRegistry()
	host = reg
	if h, p, err := net.SplitHostPort(reg); err == nil {
		host, port = h, p
	}
	if host == "docker.io" {
		host = "registry-1.docker.io"
	}
	return strings.Trim(host, "[]"), port
}

// CheckRegistryAddr judges an address a registry resolved to: never a
// private, loopback, link-local or metadata address outside the operator's
// SCAN_ALLOWED_CIDRS, except loopback in dev and test modes. Public addresses
// pass in every mode, since pulling an image scans no one.
func (p Policy) CheckRegistryAddr(a netip.Addr) error {
	if p.LoopbackOnly && a.Unmap().IsLoopback() {
		return nil
	}
	return Policy{Allowed: p.Allowed}.Check(a)
}
