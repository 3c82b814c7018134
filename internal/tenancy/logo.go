package tenancy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
)

// A tenant's logo on its own reports: PNG or JPEG, at most MaxLogoBytes and
// MaxLogoSide pixels a side, proven an image by decoding it, kept
// re-encoded as PNG (no metadata; one format for the HTML and the PDF).
const (
	MaxLogoBytes = 512 << 10
	MaxLogoSide  = 2048
)

// LogoTypes are the media types a logo may be uploaded as.
var LogoTypes = []string{"image/png", "image/jpeg"}

// Logo is a tenant's stored logo.
type Logo struct {
	TenantID      uuid.UUID
	PNG           []byte
	Width, Height int
	SHA256        string
	UpdatedAt     time.Time
}

// DecodeLogo checks an uploaded logo: its declared media type (one of
// LogoTypes, "" to take the content's), size and dimensions, and that it
// decodes as that format; it returns it re-encoded as PNG.
func DecodeLogo(data []byte, mediaType string) (Logo, error) {
	if len(data) == 0 {
		return Logo{}, domainerr.InvalidField("logo", "the logo is empty: send a PNG or JPEG image")
	}
	if len(data) > MaxLogoBytes {
		return Logo{}, domainerr.New(domainerr.TooLarge, fmt.Sprintf("the logo is %d bytes; at most %d (%d KiB) are accepted", len(data), MaxLogoBytes, MaxLogoBytes>>10))
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || (format != "png" && format != "jpeg") {
		return Logo{}, domainerr.InvalidField("logo", "the logo is not a PNG or JPEG image")
	}
	if mediaType != "" && mediaType != "image/"+format {
		return Logo{}, domainerr.InvalidField("logo", fmt.Sprintf("the logo was sent as %s but is a %s image", mediaType, format))
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > MaxLogoSide || cfg.Height > MaxLogoSide {
		return Logo{}, domainerr.InvalidField("logo", fmt.Sprintf("the logo is %d×%d pixels; at most %d×%d are accepted", cfg.Width, cfg.Height, MaxLogoSide, MaxLogoSide))
	}
	var img image.Image
	if format == "png" {
		img, err = png.Decode(bytes.NewReader(data))
	} else {
		img, err = jpeg.Decode(bytes.NewReader(data))
	}
	if err != nil {
		return Logo{}, domainerr.InvalidField("logo", "the logo image is damaged: it does not decode as "+format)
	}
	var out bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&out, img); err != nil {
		return Logo{}, err
	}
	sum := sha256.Sum256(out.Bytes())
	b := img.Bounds()
	return Logo{PNG: out.Bytes(), Width: b.Dx(), Height: b.Dy(), SHA256: hex.EncodeToString(sum[:])}, nil
}

// SetLogo stores tenant's logo (DecodeLogo's result) in place of any other.
func SetLogo(ctx context.Context, tx dbq.DBTX, tenant uuid.UUID, l Logo, by uuid.NullUUID) (Logo, error) {
	row, err := q.TenantLogoUpsert(ctx, tx, dbq.TenantLogoUpsertParams{
		TenantID: tenant, Png: l.PNG, Width: int32(l.Width), Height: int32(l.Height), Sha256: l.SHA256, UpdatedBy: by,
	})
	if err != nil {
		return Logo{}, err
	}
	l.TenantID, l.UpdatedAt = row.TenantID, row.UpdatedAt
	return l, nil
}

// GetLogo is tenant's logo; found is false when it has none.
func GetLogo(ctx context.Context, tx dbq.DBTX, tenant uuid.UUID) (l Logo, found bool, err error) {
	row, err := q.TenantLogoGet(ctx, tx, tenant)
	if errors.Is(err, pgx.ErrNoRows) {
		return Logo{}, false, nil
	}
	if err != nil {
		return Logo{}, false, err
	}
	return Logo{TenantID: row.TenantID, PNG: row.Png, Width: int(row.Width), Height: int(row.Height), SHA256: row.Sha256, UpdatedAt: row.UpdatedAt}, true, nil
}

// DeleteLogo removes tenant's logo; found is false when it had none.
func DeleteLogo(ctx context.Context, tx dbq.DBTX, tenant uuid.UUID) (found bool, err error) {
	n, err := q.TenantLogoDelete(ctx, tx, tenant)
	return n > 0, err
}
