package views

// BrandingView is /app/settings/branding: the tenant's own logo on its
// reports.
type BrandingView struct {
	// HasLogo: the tenant has one; Version busts the image's cache.
	HasLogo       bool
	Width, Height int
	Version       string
	Notice, Error string
	// MaxKiB and MaxSide are the upload's limits (tenancy.MaxLogoBytes,
	// tenancy.MaxLogoSide).
	MaxKiB, MaxSide int
}
