package feeds

import (
	"errors"
	"fmt"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/contract/intel"
	"github.com/secureops/secureops/internal/threatintel"
)

// A refused file is a non-retryable IntelFileRefused error (retrying fetches
// the same file); a failed download stays retryable.
func TestClassify(t *testing.T) {
	var ae *temporal.ApplicationError
	err := classify(fmt.Errorf("%w: EPSS file holds 3 rows, less than half of the 300000 loaded", threatintel.ErrRefused))
	if !errors.As(err, &ae) || ae.Type() != intel.ErrRefused || !ae.NonRetryable() {
		t.Fatalf("refused file: %v", err)
	}
	err = classify(fmt.Errorf("%w: GET x: 502 Bad Gateway", threatintel.ErrDownload))
	if errors.As(err, &ae) || !errors.Is(err, threatintel.ErrDownload) {
		t.Fatalf("download failure: %v", err)
	}
	if classify(nil) != nil {
		t.Fatal("nil is not nil")
	}
}
